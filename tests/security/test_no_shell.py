"""No shell command line is ever built from data or identifiers: an AST scan of every shipped package.

Remote commands (`exec_command` and the wrappers that forward to it) take only string literals or
module-level string constants; local processes are started only at a short list of reviewed sites, with an
argv list (never a string, never `shell=True`); `os.system`, `os.popen`, `os.exec*` and `os.spawn*` are
not used at all.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = (
    "models",
    "connectors",
    "detection",
    "reports",
    "proofs",
    "flows",
    "deployments",
    "dsr",
    "simulation",
    "erasure",
    "services",
)
FORBIDDEN = {
    ("os", "system"), ("os", "popen"), ("os", "execv"), ("os", "execve"), ("os", "execvp"), ("os", "execvpe"),
    ("os", "execl"), ("os", "execle"), ("os", "execlp"), ("os", "execlpe"), ("os", "spawnv"), ("os", "spawnve"),
    ("os", "spawnvp"), ("os", "spawnl"), ("os", "posix_spawn"), ("os", "posix_spawnp"), ("pty", "spawn"),
    ("asyncio", "create_subprocess_shell"), ("commands", "getoutput"), ("subprocess", "getoutput"),
    ("subprocess", "getstatusoutput"),
}  # fmt: skip
SUBPROCESS = {"run", "Popen", "call", "check_call", "check_output"}
REVIEWED_SUBPROCESS_SITES = {
    # (module, function): why the argv is safe
    ("dsr/cli_server.py", "_spawn"): "our own interpreter and module names (Prefect server/worker)",
    ("dsr/demo.py", "_dsr"): "our own CLI with fixed sub-commands",
    ("dsr/demo.py", "stop"): "our own CLI: `dsr server stop`",
    ("dsr/demo.py", "_doctor"): "our own CLI: `dsr doctor`, fixed argv",
    ("dsr/prefect_api.py", "_start"): "our interpreter, module `deployments.temp_server`; pid and fds as argv items",
    ("dsr/demo.py", "_trigger"): "our interpreter with constant code; deployment name and request id as argv items",
    ("simulation/services.py", "start_s3_server"): "moto's server script, loopback host, a port number",
    ("simulation/services.py", "start_sshd_laptops"): "the system sshd with a config file we wrote",
    ("reports/packaging.py", "print_pdf"): "a known PDF engine path and our own temp/package paths",
}
REMOTE_SINKS = {"exec_command": 0, "invoke_shell": 0}
"""Callables that run a remote command -> position of the command among the call's arguments."""


@dataclass(frozen=True)
class Finding:
    """One place that breaks the rule."""

    module: str
    line: int
    why: str


def _callee(node: ast.Call) -> tuple[str | None, str]:
    func = node.func
    if isinstance(func, ast.Attribute):
        base = func.value.id if isinstance(func.value, ast.Name) else None
        return base, func.attr
    if isinstance(func, ast.Name):
        return None, func.id
    return None, ""


def _constants(tree: ast.Module) -> set[str]:
    """Module-level names bound once to a string literal."""
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if isinstance(node.value.value, str):
                found |= {t.id for t in targets if isinstance(t, ast.Name)}
    return found


def _functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef | None) -> set[str]:
    if fn is None:
        return set()
    return {a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)}


def _calls(tree: ast.Module) -> list[tuple[ast.FunctionDef | ast.AsyncFunctionDef | None, ast.Call]]:
    """Every call with its innermost enclosing function (None at module level)."""
    found: list[tuple[ast.FunctionDef | ast.AsyncFunctionDef | None, ast.Call]] = []

    def visit(node: ast.AST, fn: ast.FunctionDef | ast.AsyncFunctionDef | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else fn
            if isinstance(child, ast.Call):
                found.append((fn, child))
            visit(child, inner)

    visit(tree, None)
    return found


def _command_arg(call: ast.Call, index: int = 0) -> ast.expr | None:
    if len(call.args) > index:
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg in ("command", "args", "cmd")), None)


def _position(fn: ast.FunctionDef | ast.AsyncFunctionDef, param: str) -> int:
    """Where callers pass `param` (a method's `self`/`cls` is not passed explicitly)."""
    names = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]
    offset = 1 if names and names[0] in ("self", "cls") else 0
    return names.index(param) - offset if param in names else 0


def check_sources(sources: dict[str, str]) -> list[Finding]:
    """Every violation of the rule in `sources` (module path -> Python source)."""
    trees = {name: ast.parse(text) for name, text in sources.items()}
    findings: list[Finding] = []
    wrappers: dict[str, dict[str, int]] = {name: dict(REMOTE_SINKS) for name in trees}
    changed = True
    while changed:  # functions that forward a parameter to a sink become sinks (within their module)
        changed = False
        for name, tree in trees.items():
            sinks = wrappers[name]
            for fn, call in _calls(tree):
                callee = _callee(call)[1]
                if fn is None or callee not in sinks or fn.name in sinks:
                    continue
                arg = _command_arg(call, sinks[callee])
                if isinstance(arg, ast.Name) and arg.id in _params(fn):
                    sinks[fn.name] = _position(fn, arg.id)
                    changed = True
    for name, tree in trees.items():
        sinks = wrappers[name]
        constants = _constants(tree)
        for fn, call in _calls(tree):
            base, attr = _callee(call)
            line = call.lineno
            if any(k.arg == "shell" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                   for k in call.keywords):  # fmt: skip
                findings.append(Finding(name, line, "shell= other than False"))
            if (base, attr) in FORBIDDEN or (base == "os" and attr.startswith(("exec", "spawn"))):
                findings.append(Finding(name, line, f"{base}.{attr} is never allowed"))
            if attr in sinks:
                arg = _command_arg(call, sinks[attr])
                literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                constant = isinstance(arg, ast.Name) and arg.id in constants
                forwarded = isinstance(arg, ast.Name) and arg.id in _params(fn) and fn is not None and fn.name in sinks
                if not (literal or constant or forwarded):
                    findings.append(Finding(name, line, f"{attr}() with a command that is not a constant"))
            if base == "subprocess" and attr in SUBPROCESS:
                arg = _command_arg(call)
                if isinstance(arg, ast.Constant | ast.JoinedStr | ast.BinOp):
                    findings.append(Finding(name, line, "subprocess with a command string (use an argv list)"))
                if fn is None or (name, fn.name) not in REVIEWED_SUBPROCESS_SITES:
                    findings.append(Finding(name, line, "unreviewed subprocess call site"))
    return sorted(set(findings), key=lambda f: (f.module, f.line, f.why))


def _package_sources() -> dict[str, str]:
    return {
        str(path.relative_to(REPO)): path.read_text(encoding="utf-8")
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
    }


def test_no_command_line_is_built_from_data() -> None:
    """Every remote command is a constant and every local process start is a reviewed argv-list site."""
    sources = _package_sources()
    assert "connectors/ssh.py" in sources and "exec_command" in sources["connectors/ssh.py"]
    assert check_sources(sources) == []


def test_reviewed_sites_still_exist() -> None:
    """The allow-list names real functions that start processes (a stale entry would hide a moved call)."""
    sources = _package_sources()
    for module, function in REVIEWED_SUBPROCESS_SITES:
        tree = ast.parse(sources[module])
        fn = next(f for f in _functions(tree) if f.name == function)
        assert any(
            _callee(c)[0] == "subprocess" and _callee(c)[1] in SUBPROCESS
            for c in ast.walk(fn)
            if isinstance(c, ast.Call)
        ), (module, function)


BAD = {
    "f_string_remote": "def scan(ch, path):\n    ch.exec_command(f'cat {path}')\n",
    "forwarding_wrapper": (
        "def _run(ch, command):\n    ch.exec_command(command)\n\ndef use(ch, name):\n    _run(ch, 'grep ' + name)\n"
    ),
    "shell_true": "import subprocess\ndef go(x):\n    subprocess.run(['ls', x], shell=True)\n",
    "os_system": "import os\ndef go(x):\n    os.system('ls ' + x)\n",
    "string_command": "import subprocess\ndef _spawn(x):\n    subprocess.run(f'ls {x}')\n",
    "unreviewed_site": "import subprocess\ndef elsewhere(argv):\n    subprocess.run(argv)\n",
    "local_variable": "def scan(ch, name):\n    cmd = 'grep ' + name\n    ch.exec_command(cmd)\n",
}


@pytest.mark.parametrize("source", list(BAD.values()), ids=list(BAD))
def test_checker_catches_command_lines_built_from_data(source: str) -> None:
    """The checker itself flags each way of building a command from data (so the real scan can fail)."""
    assert check_sources({"dsr/cli_server.py": source}) != []


def test_checker_accepts_constants_and_forwarding() -> None:
    """Literal and module-constant commands, passed through a wrapper, are accepted."""
    good = (
        "CMD = 'python3 -'\n"
        "def _open(ch, command):\n    ch.exec_command(command)\n"
        "def scan(ch):\n    _open(ch, CMD)\n    _open(ch, 'ps -A')\n"
    )
    assert check_sources({"connectors/ssh.py": good}) == []
