"""Module READMEs' Inputs and Outputs tables, generated: `python -m harness.tfdocs [--check] [MODULE ...]`.

A small stand-in for terraform-docs (which cannot be installed here), writing the same kind of tables between
`<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->` of each module's README.md. Without MODULE_DIRs it covers
every modules/*/ holding .tf files. `--check` writes nothing and exits 1 when a README is out of date
(tests/unit/harness/test_tfdocs.py runs it over modules/, so the tables cannot drift from the code).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import hcl2
from hcl2.utils import SerializationOptions

from harness.paths import REPO

MODULES_DIR = REPO / "modules"
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"
HINT = "run `nox -s docs` or `python -m harness.tfdocs`"
# Heredocs arrive as plain strings and 1e3 as a number; the rest of python-hcl2's output is normalised below.
_OPTIONS = SerializationOptions(
    with_comments=False, explicit_blocks=False, preserve_heredocs=False, preserve_scientific_notation=False
)


def module_dirs() -> list[Path]:
    return sorted(p for p in MODULES_DIR.iterdir() if p.is_dir() and any(p.glob("*.tf")))


def blocks(path: Path, kind: str) -> dict[str, dict]:
    """Every labelled block of one kind (`variable`, `output`, a test file's `run`) by name, from one HCL file
    or from a module directory's .tf files; names are unquoted, bodies as python-hcl2 gives them."""
    found: dict[str, dict] = {}
    for tf in sorted(path.glob("*.tf")) if path.is_dir() else [path]:
        for block in hcl2.loads(tf.read_text(encoding="utf-8"), serialization_options=_OPTIONS).get(kind, []):
            found.update({literal(name): body for name, body in block.items()})
    return found


def literal(value):
    """python-hcl2 8 keeps string literals quoted (escapes included) and wraps expressions as ${...}."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            value = json.loads(value)  # HCL's escapes (\" \\ \n \t \uNNNN) are JSON's
        except json.JSONDecodeError:
            value = value[1:-1]
        return value.replace("$${", "${").replace("%%{", "%{")
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # Terraform has one number type: 2.0 is 2
    if isinstance(value, dict):
        return {literal(k): literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [literal(v) for v in value]
    return value


def _type(variable: dict) -> str:
    # python-hcl2 writes a type on one line ({a = string, b = number}); pad the braces as HCL is written.
    text = literal(variable.get("type", "any"))
    return re.sub(r"(?<=[^{])\}", " }", re.sub(r"\{(?=[^}])", "{ ", text))


def _required(variable: dict) -> bool:
    # Terraform also requires a variable whose default is null when it is not nullable.
    return "default" not in variable or (variable["default"] is None and variable.get("nullable") is False)


def _default(variable: dict) -> str:
    if "default" not in variable:
        return "n/a"
    return _code(json.dumps(literal(variable["default"]), ensure_ascii=False))


def _code(text: str) -> str:
    """A table cell's code span: pipes escaped, a wider fence when the text holds a backtick."""
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _description(block: dict) -> str:
    text = " ".join(str(literal(block.get("description", "n/a"))).split())  # a table row is one line
    # `\<` keeps placeholders such as <account> visible: Markdown renderers drop what looks like an HTML tag.
    return text.replace("|", "\\|").replace("<", "\\<") or "n/a"


def render(module_dir: Path) -> str:
    """The generated part of the README, markers included, in terraform-docs' shape."""
    variables, outputs = blocks(module_dir, "variable"), blocks(module_dir, "output")
    lines = [BEGIN, "## Inputs", ""]
    if variables:
        lines += ["| name | type | default | required | description |", "|---|---|---|---|---|"]
    for name in sorted(variables):
        var = variables[name]
        required = "yes" if _required(var) else "no"
        row = [_code(name), _code(_type(var)), _default(var), required, _description(var)]
        lines.append(f"| {' | '.join(row)} |")
    lines += [] if variables else ["No inputs."]
    lines += ["", "## Outputs", ""]
    if outputs:
        lines += ["| name | description |", "|---|---|"]
    lines += [f"| {_code(name)} | {_description(outputs[name])} |" for name in sorted(outputs)]
    lines += [] if outputs else ["No outputs."]
    return "\n".join([*lines, END])


def splice(readme: str, block: str) -> str:
    """The README with its generated part replaced; everything outside the markers is kept as it is."""
    if BEGIN in readme and END in readme:
        head, rest = readme.split(BEGIN, 1)
        return head + block + rest.split(END, 1)[1]
    # First run: the hand-written "## Inputs" and "## Outputs" sections (up to the next heading) give way.
    found = re.search(r"^## Inputs\n.*?^## Outputs\n.*?(?=^#{1,2} |\Z)", readme, flags=re.S | re.M)
    if found:
        tail = readme[found.end() :]
        return readme[: found.start()] + block + ("\n\n" if tail else "\n") + tail
    return readme.rstrip("\n") + "\n\n" + block + "\n"


def sync(dirs: list[Path], write: bool) -> tuple[list[Path], list[Path]]:
    """(READMEs that were, or would be, changed; modules without a README). Writes only when `write`."""
    changed, missing = [], []
    for module_dir in dirs:
        readme = module_dir / "README.md"
        if not readme.is_file():
            missing.append(module_dir)
            continue
        old = readme.read_text(encoding="utf-8")
        new = splice(old, render(module_dir))
        if new != old:
            changed.append(readme)
            if write:
                readme.write_text(new, encoding="utf-8")
    return changed, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.tfdocs", description="Write README tables.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a README is stale")
    parser.add_argument("modules", nargs="*", type=Path, metavar="MODULE_DIR", help="default: every module")
    args = parser.parse_args(argv)
    changed, missing = sync(args.modules or module_dirs(), write=not args.check)
    for module_dir in missing:
        print(f"no README.md, nothing written: {os.path.relpath(module_dir)}", file=sys.stderr)
    if args.check and changed:
        print(f"out of date ({HINT}):", file=sys.stderr)
        print("\n".join(f"  {os.path.relpath(r)}" for r in changed), file=sys.stderr)
        return 1
    print("\n".join(f"updated {os.path.relpath(r)}" for r in changed) or "all module READMEs are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
