"""Read every manifest under a folder, validate it, and report all problems at once."""

from __future__ import annotations

from pathlib import Path

from open_data_contract_standard.model import OpenDataContractStandard
from pydantic import ValidationError

from barecount.errors import ManifestError
from barecount.manifest.errors import problems_from_validation
from barecount.manifest.models import API_VERSION, Pipeline, Team
from barecount.manifest.project import Loaded, ManifestSet
from barecount.manifest.suggest import did_you_mean
from barecount.manifest.validate import cross_check
from barecount.manifest.yamlsource import Document, YamlProblem, read_documents

KINDS = {"Pipeline": Pipeline, "Team": Team, "DataContract": OpenDataContractStandard}


def manifest_files(root: Path) -> list[Path]:
    """YAML files under ``root``, in a stable order."""
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_manifests(root: Path | str, *, check_imports: bool = True) -> ManifestSet:
    """Load and validate all manifests under ``root``.

    Raises:
        ManifestError: listing every problem found, each as 'file:line: ...'.
    """
    root = Path(root)
    if not root.is_dir():
        raise ManifestError(
            [
                f"{root}: no such manifests folder; pass the folder holding pipelines/, teams/ "
                "and contracts/ (or set BARECOUNT_MANIFESTS)"
            ]
        )
    found = ManifestSet(root=root)
    problems: list[str] = []
    for file in manifest_files(root):
        try:
            documents = list(read_documents(file))
        except YamlProblem as exc:
            problems.append(f"{file}:{exc.line}: {exc.message}")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{file}:1: cannot read file: {exc}")
            continue
        for doc in documents:
            problems += _load_document(doc, found)
    if not problems:
        problems += cross_check(found, check_imports=check_imports)
    if problems:
        raise ManifestError(problems)
    return found


def _load_document(doc: Document, found: ManifestSet) -> list[str]:
    data = doc.data
    if not isinstance(data, dict):
        return [
            f"{doc.file}:{doc.line_of(())}: a manifest must be a mapping with "
            "apiVersion, kind, metadata and spec"
        ]
    kind = data.get("kind")
    if kind not in KINDS:
        shown = "no kind" if kind is None else f"unknown kind {kind!r}{did_you_mean(kind, KINDS)}"
        return [
            f"{doc.file}:{doc.line_of(('kind',))}: {shown}; expected one of "
            f"{', '.join(KINDS)} (with apiVersion {API_VERSION}, or v3.x for contracts)"
        ]
    model_type = KINDS[kind]
    try:
        model = model_type.model_validate(data)
    except ValidationError as exc:
        return problems_from_validation(doc, exc, model_type)
    if kind == "DataContract":
        return _add_contract(doc, model, found)
    registry = found.pipelines if kind == "Pipeline" else found.teams
    return _add(registry, kind.lower(), model.name, Loaded(model, doc), ("metadata", "name"))


def _add_contract(
    doc: Document, contract: OpenDataContractStandard, found: ManifestSet
) -> list[str]:
    where = f"{doc.file}:{doc.line_of(('name',))}"
    if not contract.name:
        return [f"{where}: contract has no 'name'; pipelines refer to contracts by name"]
    if not (contract.apiVersion or "").startswith("v3"):
        return [
            f"{where}: contract {contract.name!r} has apiVersion {contract.apiVersion!r}; "
            "BareCount reads Open Data Contract Standard v3 (e.g. 'v3.0.2')"
        ]
    if not contract.version:
        return [f"{where}: contract {contract.name!r} has no 'version'; add e.g. version: 1.0.0"]
    if not contract.schema_:
        return [f"{where}: contract {contract.name!r} declares no schema objects; add 'schema:'"]
    return _add(found.contracts, "contract", contract.name, Loaded(contract, doc), ("name",))


def _add(registry: dict[str, Loaded], kind: str, name: str, loaded: Loaded, path) -> list[str]:
    if name in registry:
        first = registry[name]
        return [
            f"{loaded.where(*path)}: duplicate {kind} {name!r} (first in {first.where(*path)});"
            f" {kind} names must be unique"
        ]
    registry[name] = loaded
    return []
