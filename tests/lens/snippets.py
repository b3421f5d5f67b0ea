"""Twenty tiny functions, each in a correct and a deliberately broken version (off by one,
wrong operator, wrong base case, ...): real code for real embeddings in the Lens tests."""

PAIRS: list[tuple[str, str]] = [
    ("def add(a, b):\n    return a + b\n",
     "def add(a, b):\n    return a - b\n"),
    ("def is_even(n):\n    return n % 2 == 0\n",
     "def is_even(n):\n    return n % 2 == 1\n"),
    ("def factorial(n):\n    if n <= 1:\n        return 1\n    return n * factorial(n - 1)\n",
     "def factorial(n):\n    if n <= 1:\n        return 0\n    return n * factorial(n - 1)\n"),
    ("def reverse_string(s):\n    return s[::-1]\n",
     "def reverse_string(s):\n    return s[::1]\n"),
    ("def max_of_list(xs):\n    best = xs[0]\n    for x in xs:\n        if x > best:\n"
     "            best = x\n    return best\n",
     "def max_of_list(xs):\n    best = xs[0]\n    for x in xs:\n        if x < best:\n"
     "            best = x\n    return best\n"),
    ("def sum_list(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n",
     "def sum_list(xs):\n    total = 0\n    for x in xs:\n        total = x\n    return total\n"),
    ("def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n"
     "        a, b = b, a + b\n    return a\n",
     "def fib(n):\n    a, b = 0, 1\n    for _ in range(n - 1):\n"
     "        a, b = b, a + b\n    return a\n"),
    ("def count_vowels(s):\n    return sum(1 for c in s.lower() if c in 'aeiou')\n",
     "def count_vowels(s):\n    return sum(1 for c in s.lower() if c not in 'aeiou')\n"),
    ("def is_palindrome(s):\n    return s == s[::-1]\n",
     "def is_palindrome(s):\n    return s == s[1:]\n"),
    ("def square_all(xs):\n    return [x * x for x in xs]\n",
     "def square_all(xs):\n    return [x * 2 for x in xs]\n"),
    ("def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n",
     "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return b\n"),
    ("def last_element(xs):\n    return xs[-1]\n",
     "def last_element(xs):\n    return xs[len(xs)]\n"),
    ("def celsius_to_fahrenheit(c):\n    return c * 9 / 5 + 32\n",
     "def celsius_to_fahrenheit(c):\n    return c * 5 / 9 + 32\n"),
    ("def count_words(s):\n    return len(s.split())\n",
     "def count_words(s):\n    return len(s)\n"),
    ("def is_prime(n):\n    if n < 2:\n        return False\n"
     "    for d in range(2, int(n ** 0.5) + 1):\n"
     "        if n % d == 0:\n            return False\n    return True\n",
     "def is_prime(n):\n    if n < 2:\n        return False\n    for d in range(2, n):\n"
     "        if n % d == 0:\n            return True\n    return True\n"),
    ("def flatten(lists):\n    return [x for sub in lists for x in sub]\n",
     "def flatten(lists):\n    return [sub for sub in lists]\n"),
    ("def min_index(xs):\n    return xs.index(min(xs))\n",
     "def min_index(xs):\n    return min(xs)\n"),
    ("def power(base, exp):\n    result = 1\n    for _ in range(exp):\n        result *= base\n"
     "    return result\n",
     "def power(base, exp):\n    result = 0\n    for _ in range(exp):\n        result *= base\n"
     "    return result\n"),
    ("def unique(xs):\n    seen = []\n    for x in xs:\n        if x not in seen:\n"
     "            seen.append(x)\n    return seen\n",
     "def unique(xs):\n    seen = []\n    for x in xs:\n        if x in seen:\n"
     "            seen.append(x)\n    return seen\n"),
    ("def average(xs):\n    return sum(xs) / len(xs)\n",
     "def average(xs):\n    return sum(xs) // 2\n"),
]
