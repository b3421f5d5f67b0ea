"""The Python test harness, run inside a forked zygote child (see zygote.py): loads the
candidate's code, then runs each test on its own and reports every outcome.

Stdlib only: this file is sent, together with zygote.py, to the sandbox's interpreter with
``python3 -I -c`` and never imports the host package (the host tree is not visible there).

Reports are JSON lines ({"t": "plan"|"test"|"error"|"memory"|"filesize"|"done", ...}) written
into a MAP_SHARED mapping of the report memfd taken before user code runs, so user code that
closes fds or fills stdout with junk cannot lose or corrupt them. (User code runs in this
same process: it protects the host, it cannot stop a program from lying about its own
results. See docs/sandbox.md.)
"""

import ast
import errno
import json
import os
import sys

REPORT_SIZE = 8 << 20
_HDR = 8  # first 8 bytes of the report mapping: used length


class Reporter:
    def __init__(self, mm):
        self.mm = mm
        self.pos = _HDR

    def rec(self, **obj):
        data = (json.dumps(obj) + "\n").encode()
        if self.pos + len(data) > REPORT_SIZE:
            return
        self.mm[self.pos : self.pos + len(data)] = data
        self.pos += len(data)
        self.mm[0:_HDR] = self.pos.to_bytes(_HDR, "little")  # publish after the data


def _short(s, n=500):
    s = str(s)
    return s if len(s) <= n else s[: n - 3] + "..."


def _exc_msg(e):
    try:
        text = str(e)
    except BaseException:
        text = "<unprintable>"
    return _short("%s: %s" % (type(e).__name__, text) if text else type(e).__name__)


class _AssertIndexer(ast.NodeTransformer):
    """Wraps every assert of a test file so each one is recorded on its own, and a failing
    or raising one does not stop the rest (one failing assert must not hide the others)."""

    def __init__(self, src):
        self.src = src
        self.names = []

    def visit_Assert(self, node):
        k = len(self.names)
        self.names.append(_short(ast.get_source_segment(self.src, node) or "assert", 200))

        def rec(arg):
            return ast.Expr(ast.Call(ast.Name("__atlas_rec__", ast.Load()), [ast.Constant(k), arg], []))

        handler = ast.ExceptHandler(ast.Name("BaseException", ast.Load()), "__atlas_e__",
                                    [rec(ast.Name("__atlas_e__", ast.Load()))])
        new = ast.Try([node], [handler], [rec(ast.Constant(None))], [])
        return ast.copy_location(new, node)


class Harness:
    def __init__(self, mm, req, env, workdir):
        self.w = Reporter(mm)
        self.req = req
        self.env = env
        self.path = os.path.join(workdir, "main.py")
        self.memory_error = False

    def main(self):
        import builtins
        import io

        os.environ.clear()
        os.environ.update(self.env)
        sys.argv = [self.path]
        sys.path[0:0] = [os.path.dirname(self.path)]
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8", errors="replace")
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                      errors="backslashreplace", write_through=False)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                      errors="backslashreplace", line_buffering=True)
        code = self.req.get("code", "")
        tests = self.req.get("tests", [])
        test_file = self.req.get("test_file")
        g = {"__name__": "__main__", "__builtins__": builtins, "__file__": self.path}
        try:
            co = compile(code, self.path, "exec")
        except (SyntaxError, ValueError) as e:
            self.fail_run(e)
        has_tests = bool(tests) or test_file is not None
        try:
            exec(co, g)
        except SystemExit as e:
            if has_tests:  # exiting before the tests ran means they could not be judged
                self.fail_run(e)
            self.finish(_exit_code(e))
        except BaseException as e:
            self.fail_run(e)
        if not has_tests:
            self.finish(0)
        plan = [_short(t, 200) for t in tests]
        tf = None
        if test_file is not None:
            try:
                tf = self.prepare_test_file(test_file)
            except (SyntaxError, ValueError) as e:
                self.fail_run(e)
            plan += tf[1] or ["test_file"]
        self.w.rec(t="plan", names=plan)
        for i, line in enumerate(tests):
            ok, msg = self.run_line(line, i, g)
            self.w.rec(t="test", i=i, ok=ok, msg=msg)
        if tf is not None:
            self.run_test_file(tf, len(tests), g)
        self.finish(0)

    def run_line(self, line, i, g):
        try:
            tree = ast.parse(line, "<test %d>" % i)
            node = tree.body[0] if len(tree.body) == 1 else None
            # For ``assert x == y`` show what the candidate actually returned.
            if (isinstance(node, ast.Assert) and node.msg is None and isinstance(node.test, ast.Compare)
                    and len(node.test.ops) == 1 and isinstance(node.test.ops[0], ast.Eq)):
                left = eval(compile(ast.Expression(node.test.left), "<test %d>" % i, "eval"), g)
                right = eval(compile(ast.Expression(node.test.comparators[0]), "<test %d>" % i, "eval"), g)
                if left == right:
                    return True, ""
                return False, _short("AssertionError: %s (got %s)" % (line.strip(), _safe_repr(left)))
            exec(compile(tree, "<test %d>" % i, "exec"), g)
            return True, ""
        except AssertionError as e:
            return False, _short("AssertionError: %s%s" % (line.strip(), (": %s" % e) if str(e) else ""))
        except BaseException as e:
            self.note(e)
            return False, _exc_msg(e)

    def prepare_test_file(self, src):
        tree = ast.parse(src, "test_file.py")
        entry = self.req.get("entry_point")
        defines_check = any(isinstance(n, ast.FunctionDef) and n.name == "check" for n in tree.body)
        calls_check = any(
            isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
            and isinstance(n.value.func, ast.Name) and n.value.func.id == "check"
            for n in tree.body
        )
        if defines_check and not calls_check and entry:
            tree.body.extend(ast.parse("check(%s)" % entry).body)
        idx = _AssertIndexer(src)
        tree = ast.fix_missing_locations(idx.visit(tree))
        return compile(tree, "test_file.py", "exec"), idx.names

    def run_test_file(self, tf, base, g):
        co, names = tf
        if not names:  # no asserts to count: the file as a whole is one test
            try:
                exec(co, g)
                self.w.rec(t="test", i=base, ok=True, msg="")
            except BaseException as e:
                self.note(e)
                self.w.rec(t="test", i=base, ok=False, msg=_exc_msg(e))
            return
        seen = {}

        def rec(k, exc):
            if exc is None:
                seen.setdefault(k, None)
            elif seen.get(k) is None:  # keep the first failure of an assert inside a loop
                self.note(exc)
                if isinstance(exc, AssertionError):
                    seen[k] = _short("AssertionError: %s%s" % (names[k], (": %s" % exc) if str(exc) else ""))
                else:
                    seen[k] = _exc_msg(exc)
                self.w.rec(t="test", i=base + k, ok=False, msg=seen[k])

        g["__atlas_rec__"] = rec
        try:
            exec(co, g)
            aborted = None
        except BaseException as e:
            self.note(e)
            aborted = _exc_msg(e)
        for k in range(len(names)):
            if k in seen:
                if seen[k] is None:
                    self.w.rec(t="test", i=base + k, ok=True, msg="")
            elif aborted is not None or not seen:
                why = aborted or "never executed (is check() called? pass entry_point)"
                self.w.rec(t="test", i=base + k, ok=False, msg=_short("not reached: " + why))
            else:
                self.w.rec(t="test", i=base + k, ok=True, msg="skipped (branch not taken)")

    def note(self, e):
        if isinstance(e, MemoryError):
            self.memory_error = True
            self.w.rec(t="memory")
        elif isinstance(e, OSError) and e.errno in (errno.EFBIG, errno.ENOSPC):
            self.w.rec(t="filesize")

    def fail_run(self, e):
        import traceback

        self.note(e)
        info = {"t": "error", "type": type(e).__name__, "msg": _exc_msg(e)}
        self.w.rec(**info)
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == "<string>":
            tb = tb.tb_next  # hide the harness's own frames: only the program's are news
        try:
            traceback.print_exception(type(e), e, tb, file=sys.stderr)
        except BaseException:
            pass
        self.finish(_exit_code(e) if isinstance(e, SystemExit) else 1, done=False)

    def finish(self, code, done=True):
        for s in (sys.stdout, sys.stderr):
            try:
                s.flush()
            except BaseException:
                pass
        if done:
            self.w.rec(t="done", exit=code)
        os._exit(code)


def _exit_code(e):
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    try:
        sys.stderr.write("%s\n" % (e.code,))
    except BaseException:
        pass
    return 1


def _safe_repr(v):
    try:
        return _short(repr(v), 200)
    except BaseException:
        return "<unrepresentable>"
