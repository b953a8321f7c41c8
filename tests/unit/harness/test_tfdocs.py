"""harness.tfdocs: generated Inputs/Outputs tables of the module READMEs, and that the READMEs are current."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import tfdocs

VARIABLES = """
variable "name_prefix" {
  description = "Prefix of every name."
  type        = string
}

variable "trust" {
  description = <<-EOT
    Per key, a service | its <account> ARNs.
    Second line.
  EOT
  type = map(object({
    service     = string
    source_arns = optional(list(string), [])
  }))
  default = {}
}

variable "limits" {
  type    = map(number)
  default = { "cpu" = 2.0, memory = 2048 }
}

variable "label" {
  default = "say \\"hi\\" to $${name}"
}
"""
OUTPUTS = """
output "names" {
  description = "Names, by key."
  value       = { for k, v in var.trust : k => v.service }
}

output "arn" {
  value = var.name_prefix
}
"""
README = """# demo

Intro prose.

## Usage

```hcl
module "demo" {
  source = "../demo"
}
```

## Inputs

| name | type | default | description |
|---|---|---|---|
| `name_prefix` | string | | Hand-written. |

## Outputs

| name | description |
|---|---|
| `names` | Hand-written. |
"""


@pytest.fixture
def module(tmp_path) -> Path:
    """A miniature module: variables and outputs in two files, a README with hand-written tables."""
    (tmp_path / "variables.tf").write_text(VARIABLES)
    (tmp_path / "outputs.tf").write_text(OUTPUTS)
    (tmp_path / "README.md").write_text(README)
    return tmp_path


def _rows(module: Path) -> dict[str, str]:
    """Table rows of the rendered block, by their first cell."""
    rows = [line for line in tfdocs.render(module).splitlines() if line.startswith("| `")]
    return {row.split(" | ")[0].removeprefix("| "): row for row in rows}


def test_required_variable(module):
    row = _rows(module)["`name_prefix`"]
    assert row == "| `name_prefix` | `string` | n/a | yes | Prefix of every name. |"


def test_object_type_with_optional_on_one_line_and_description_escaped_and_folded(module):
    assert _rows(module)["`trust`"] == (
        "| `trust` | `map(object({ service = string, source_arns = optional(list(string), []) }))` | `{}` "
        "| no | Per key, a service \\| its \\<account> ARNs. Second line. |"
    )


def test_default_map_is_compact_json_and_a_missing_type_is_any(module):
    rows = _rows(module)
    assert rows["`limits`"] == '| `limits` | `map(number)` | `{"cpu": 2, "memory": 2048}` | no | n/a |'
    assert rows["`label`"] == '| `label` | `any` | `"say \\"hi\\" to ${name}"` | no | n/a |'


def test_inputs_and_outputs_are_sorted_by_name(module):
    assert list(_rows(module)) == ["`label`", "`limits`", "`name_prefix`", "`trust`", "`arn`", "`names`"]
    assert "| `arn` | n/a |" in tfdocs.render(module)


def test_first_run_replaces_the_hand_written_tables_and_keeps_the_rest(module):
    changed, missing = tfdocs.sync([module], write=True)
    text = (module / "README.md").read_text()
    assert (changed, missing) == ([module / "README.md"], [])
    assert text.startswith(README.split("## Inputs")[0] + tfdocs.BEGIN + "\n## Inputs\n")
    assert text.endswith(tfdocs.END + "\n")
    assert "Hand-written" not in text
    assert text.count("## Inputs") == text.count("## Outputs") == 1


def test_sections_after_the_tables_are_kept(module):
    (module / "README.md").write_text(README + "\n## Notes\n\nKept.\n")
    tfdocs.sync([module], write=True)
    assert (module / "README.md").read_text().endswith(f"{tfdocs.END}\n\n## Notes\n\nKept.\n")


def test_rerun_is_byte_identical(module):
    tfdocs.sync([module], write=True)
    first = (module / "README.md").read_bytes()
    assert tfdocs.sync([module], write=True) == ([], [])
    assert (module / "README.md").read_bytes() == first


def test_check_detects_a_stale_table_and_writes_nothing(module, capsys):
    tfdocs.sync([module], write=True)
    assert tfdocs.main(["--check", str(module)]) == 0
    with (module / "variables.tf").open("a") as tf:
        tf.write('\nvariable "added" {\n  type = bool\n}\n')
    before = (module / "README.md").read_bytes()
    assert tfdocs.main(["--check", str(module)]) == 1
    assert (module / "README.md").read_bytes() == before
    err = capsys.readouterr().err
    assert os.path.relpath(module / "README.md") in err
    assert "nox -s docs" in err
    assert tfdocs.main([str(module)]) == 0
    assert "`added` | `bool` | n/a | yes |" in (module / "README.md").read_text()


def test_a_module_without_readme_is_reported_not_written(tmp_path, capsys):
    (tmp_path / "main.tf").write_text(OUTPUTS)
    assert tfdocs.main(["--check", str(tmp_path)]) == 0
    assert "no README.md" in capsys.readouterr().err
    assert not (tmp_path / "README.md").exists()


def test_module_readmes_are_current():
    """The tables of modules/*/README.md match the modules' variables and outputs."""
    stale, _ = tfdocs.sync(tfdocs.module_dirs(), write=False)
    listing = "\n".join(f"  {p.relative_to(tfdocs.MODULES_DIR.parent)}" for p in stale)
    assert not stale, f"module READMEs out of date ({tfdocs.HINT}):\n{listing}"
