from proxy.openai.protocol import ChatCompletionRequest, ChatMessage, ResponseFormat
from proxy.pipeline.classify import classify, detect_language
from tests.pipeline.conftest import ADD_STUB, user


def test_function_stub_is_code():
    route = classify(user(ADD_STUB))
    assert route.code and route.language == "python"


def test_request_for_code_is_code():
    assert classify(user("Write a Python function that reverses a string.")).code
    assert classify(user("implement a function to check for palindromes")).code


def test_humaneval_style_fenced_prompt_is_code():
    text = f"Complete the following Python function.\n\n```python\n{ADD_STUB}```"
    assert classify(user(text)).code


def test_plain_chat_and_questions_pass_through():
    for text in (
        "Hello! How are you?",
        "What is the capital of France?",
        "Explain what this code does:\n```python\ndef f(x):\n    return x\n```",
        "Why is Python slow?",
    ):
        assert not classify(user(text)).code, text


def test_tool_turns_pass_through():
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    assert (
        classify(user("Write a function to add numbers", tools=tools)).reason == "tool-calling turn"
    )
    req = ChatCompletionRequest(
        model="atlas",
        messages=[
            ChatMessage(role="user", content="write a function"),
            ChatMessage(role="tool", content="{}", tool_call_id="1"),
        ],
    )
    assert not classify(req).code


def test_other_requests_pass_through():
    assert not classify(user("Write a function to add numbers", n=2)).code
    fmt = ResponseFormat(type="json_object")
    assert not classify(user("Write a function to add numbers", response_format=fmt)).code
    route = classify(user("Write a JavaScript function that adds two numbers."))
    assert not route.code and "javascript" in route.reason
    assert classify(
        user("Write a JavaScript function that adds numbers."), ("python", "javascript")
    ).code


def test_detect_language():
    assert detect_language("Write it in Rust please") == "rust"
    assert detect_language("```go\nfunc main() {}\n```") == "go"
    assert detect_language("in case of doubt, write a function") is None
    assert detect_language(ADD_STUB) == "python"
