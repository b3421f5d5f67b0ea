"""Per language: which toolchain, how to lay out files, compile and run, and how tests are
wrapped so each one is counted on its own.

Only Python runs in-process in the zygote (its harness is python_runner.py). The others are
exec'd from a zygote fork; their tests are wrapped in a generated harness that appends one
JSON line per test to fd 3 (the report memfd), the same records the Python harness writes.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from dataclasses import dataclass, field

from .types import ExecRequest


@dataclass
class Step:
    kind: str  # "python" (in-process harness) | "exec"
    argv: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    compile: bool = False
    memory_mb: int | None = None  # override the run's address-space limit
    # Python harness inputs
    code: str = ""
    tests: list[str] = field(default_factory=list)
    test_file: str | None = None
    entry_point: str | None = None
    test_names: list[str] = field(default_factory=list)  # for exec harnesses


@dataclass
class Language:
    name: str
    binaries: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    # Messages a runtime prints when an allocation fails under RLIMIT_AS.
    oom_patterns: tuple[str, ...] = ()

    def steps(self, req: ExecRequest, with_tests: bool, cfg_compile_mb: int, memory_mb: int) -> list[Step]:
        raise NotImplementedError


def _wrapped_tests(req: ExecRequest, with_tests: bool) -> tuple[list[str], list[str]]:
    """(names, bodies) of the tests an exec harness wraps, in report order: each test line,
    then the test file. Both empty when the run has no tests (the code runs bare)."""
    if not with_tests or not (req.tests or req.test_file is not None):
        return [], []
    names = [t.strip()[:200] for t in req.tests]
    bodies = list(req.tests)
    if req.test_file is not None:
        names.append("test_file")
        bodies.append(req.test_file)
    return names, bodies


class Python(Language):
    def steps(self, req, with_tests, cfg_compile_mb, memory_mb):
        tests = list(req.tests) if with_tests else []
        tf = req.test_file if with_tests else None
        return [Step("python", code=req.code, tests=tests, test_file=tf,
                     entry_point=getattr(req, "entry_point", None), files={"main.py": req.code})]


class JavaScript(Language):
    def steps(self, req, with_tests, cfg_compile_mb, memory_mb):
        src = req.code
        names, bodies = _wrapped_tests(req, with_tests)
        if bodies:
            # Direct eval inside try: a test that throws, or does not even parse, fails
            # alone; it still sees the candidate's top-level bindings.
            parts = [
                "\n;(function(){const __fs=require('fs');",
                "function __rec(o){try{__fs.writeSync(3,JSON.stringify(o)+'\\n')}catch(e){}}",
                "__rec({t:'plan',names:%s});" % json.dumps(names),
            ]
            for i, body in enumerate(bodies):
                parts.append(
                    "try{eval(%s);__rec({t:'test',i:%d,ok:true})}catch(e){"
                    "__rec({t:'test',i:%d,ok:false,msg:String(e&&e.name||'Error')+': '+"
                    "String(e&&e.message!==undefined?e.message:e).slice(0,400)})}" % (json.dumps(body), i, i)
                )
            parts.append("__rec({t:'done',exit:0});})();\n")
            src = req.code + "\n" + "\n".join(parts)
        # V8 reserves gigabytes of address space up front, so RLIMIT_AS must leave headroom;
        # the heap itself is capped with --max-old-space-size.
        argv = ["node", "--max-old-space-size=%d" % memory_mb, "--stack-size=4000", "main.js"]
        return [Step("exec", argv=argv, files={"main.js": src}, memory_mb=memory_mb + 4096,
                     test_names=names)]


class Bash(Language):
    def steps(self, req, with_tests, cfg_compile_mb, memory_mb):
        src = req.code
        names, bodies = _wrapped_tests(req, with_tests)
        if bodies:
            lines = ["", "set +e", "printf '%%s\\n' %s >&3" % shlex.quote(json.dumps({"t": "plan", "names": names}))]
            for i, body in enumerate(bodies):
                ok = shlex.quote(json.dumps({"t": "test", "i": i, "ok": True}))
                bad = shlex.quote(json.dumps({"t": "test", "i": i, "ok": False, "msg": "TestFailed: nonzero exit"}))
                # a subshell: a test that calls exit only ends itself
                lines.append(f"if ( eval {shlex.quote(body)} ); then printf '%s\\n' {ok} >&3; "
                             f"else printf '%s\\n' {bad} >&3; fi")
            lines.append("printf '%s\\n' '{\"t\":\"done\",\"exit\":0}' >&3")
            src = req.code + "\n" + "\n".join(lines) + "\n"
        return [Step("exec", argv=["bash", "main.sh"], files={"main.sh": src}, test_names=names)]


# Headers a test may need that the candidate need not have included (a test comparing
# against a std::vector, asserting with assert): prepended only when tests are wrapped.
_C_PRELUDE = "#include <assert.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
_CPP_PRELUDE = "".join(f"#include <{h}>\n" for h in (
    "cassert", "cstdio", "cstdlib", "cstring", "cmath", "string", "vector", "map", "set",
    "algorithm", "utility", "iostream"))
_C_HARNESS = r"""
#include <unistd.h>
#include <sys/wait.h>
#include <signal.h>
%(funcs)s
int main(void) {
  void (*tests[])(void) = {%(table)s};
  int n = (int)(sizeof(tests) / sizeof(tests[0]));
  dprintf(3, "{\"t\":\"plan\",\"n\":%%d}\n", n);
  for (int i = 0; i < n; i++) {
    fflush(stdout); fflush(stderr);
    pid_t p = fork();  /* each test in its own process: an abort fails that test only */
    if (p < 0) {
      dprintf(3, "{\"t\":\"test\",\"i\":%%d,\"ok\":false,\"msg\":\"TestFailed: fork failed\"}\n", i);
      continue;
    }
    if (p == 0) { tests[i](); fflush(stdout); _exit(0); }
    int st = 0; waitpid(p, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
      dprintf(3, "{\"t\":\"test\",\"i\":%%d,\"ok\":true}\n", i);
    else if (WIFSIGNALED(st))
      dprintf(3, "{\"t\":\"test\",\"i\":%%d,\"ok\":false,\"msg\":\"TestFailed: killed by signal %%d%%s\"}\n", i,
              WTERMSIG(st), WTERMSIG(st) == SIGABRT ? " (SIGABRT: assert failed?)" : "");
    else
      dprintf(3, "{\"t\":\"test\",\"i\":%%d,\"ok\":false,\"msg\":\"TestFailed: exit status %%d\"}\n",
              i, WEXITSTATUS(st));
  }
  dprintf(3, "{\"t\":\"done\",\"exit\":0}\n");
  return 0;
}
"""


class CFamily(Language):
    def __init__(self, name, binaries, aliases, ext, compiler, std, prelude):
        super().__init__(name, binaries, aliases, ("std::bad_alloc", "Cannot allocate memory", "out of memory"))
        self.ext, self.compiler, self.std, self.prelude = ext, compiler, std, prelude

    def steps(self, req, with_tests, cfg_compile_mb, memory_mb):
        src = req.code
        names, bodies = _wrapped_tests(req, with_tests)
        if bodies:
            # Tests are statements (e.g. ``assert(add(1,2)==3);``); the code must not define
            # main: the generated main runs each test in a forked child.
            funcs = "\n".join(f"static void __atlas_t{i}(void) {{\n{b}\n;}}" for i, b in enumerate(bodies))
            table = ", ".join(f"__atlas_t{i}" for i in range(len(bodies)))
            src = self.prelude + req.code + "\n" + _C_HARNESS % {"funcs": funcs, "table": table}
        main = "main" + self.ext
        cc = [self.compiler, "-std=" + self.std, "-O2", "-pipe", "-o", "main", main]
        if self.name == "c":
            cc.append("-lm")
        return [
            Step("exec", argv=cc, files={main: src}, compile=True, memory_mb=cfg_compile_mb),
            Step("exec", argv=["./main"], test_names=names),
        ]


def _perl_str(text: str) -> str:
    # Every character escaped: no quoting rule of Perl's can be broken by a test's text.
    return '"' + "".join("\\x{%x}" % ord(c) for c in text) + '"'


class Perl(Language):
    def steps(self, req, with_tests, cfg_compile_mb, memory_mb):
        src = req.code
        names, bodies = _wrapped_tests(req, with_tests)
        if bodies:
            lines = ["", "{ no strict; no warnings; open(my $__atlas_fh, '>&=', 3); $__atlas_fh->autoflush(1);",
                     "print $__atlas_fh %s;" % _perl_str(json.dumps({"t": "plan", "names": names}) + "\n")]
            for i, body in enumerate(bodies):
                ok = _perl_str(json.dumps({"t": "test", "i": i, "ok": True}) + "\n")
                bad = _perl_str(json.dumps({"t": "test", "i": i, "ok": False, "msg": "TestFailed: died"}) + "\n")
                lines.append("print $__atlas_fh (eval { eval %s; die $@ if $@; 1 } ? %s : %s);"
                             % (_perl_str(body), ok, bad))
            lines.append("print $__atlas_fh %s; }" % _perl_str('{"t":"done","exit":0}\n'))
            src = req.code + "\n" + "\n".join(lines) + "\n"
        return [Step("exec", argv=["perl", "main.pl"], files={"main.pl": src}, test_names=names)]


ALL: list[Language] = [
    Python("python", ("python3",), ("py", "python3"), ("MemoryError",)),
    JavaScript("javascript", ("node",), ("js", "node", "nodejs"),
               ("heap out of memory", "Allocation failed", "Cannot allocate memory",
                "RangeError: Array buffer allocation failed")),
    Bash("bash", ("bash",), ("sh", "shell"), ("Cannot allocate memory", "xmalloc")),
    CFamily("c", ("gcc",), (), ".c", "gcc", "gnu17", _C_PRELUDE),
    CFamily("cpp", ("g++",), ("c++", "cxx"), ".cpp", "g++", "gnu++17", _CPP_PRELUDE),
    Perl("perl", ("perl",), ("pl",), ("Out of memory",)),
]


def resolve(name: str) -> Language | None:
    key = name.strip().lower()
    for lang in ALL:
        if key == lang.name or key in lang.aliases:
            return lang
    return None


def detect(visible_prefixes: tuple[str, ...] | None) -> dict[str, Language]:
    """Languages whose toolchain exists and, under bwrap, lives in the part of the file
    system the sandbox can see (a node under /root/.nvm would not be reachable there)."""
    found: dict[str, Language] = {}
    for lang in ALL:
        ok = True
        for b in lang.binaries:
            path = shutil.which(b, path="/usr/local/bin:/usr/bin:/bin")
            if path is None:
                ok = False
                break
            real = os.path.realpath(path)
            if visible_prefixes is not None and not any(
                real.startswith(p.rstrip("/") + "/") or os.path.realpath(p) == os.path.dirname(real)
                or real.startswith(os.path.realpath(p) + "/") for p in visible_prefixes
            ):
                ok = False
                break
        if ok:
            found[lang.name] = lang
    return found


_ERR_RE = re.compile(r"\b([A-Z][A-Za-z]*(?:Error|Exception))\b")


def error_type_from_stderr(stderr: str) -> str | None:
    """Best effort name for a crash of a non-Python program (``ReferenceError`` from node,
    ``std::out_of_range`` is left as the generic exit)."""
    m = _ERR_RE.search(stderr)
    return m.group(1) if m else None
