"""Where a model version came from: its source, licence and training run, and the licences a platform allows.

A team stack's model version may say (and in prod must say) ``source`` (the repository URL and the commit it was
built from), ``license`` (one SPDX licence identifier), ``run`` (the MLflow model that produced it: ``runs:/<run
id>/<path>`` or ``models:/<registered model>/<version>``) and free-form ``notes``. A platform stack's
``model-licenses.allowed`` lists the licences its environment accepts; a team stack on it may use no other.

A licence is one identifier: either of the SPDX License List as the ``license-expression`` package bundles it,
spelt as the list spells it (``Apache-2.0``, not ``apache-2.0``), no expression (``MIT OR Apache-2.0``), no
deprecated form the list replaced (``GPL-2.0+``); or a user-defined licence reference of the SPDX specification
(clause 10.1, "LicenseRef-"[idstring], idstring of letters, digits, ``.`` and ``-``), checked by that form alone.
ScanCode's ``LicenseRef-scancode-*`` keys are accepted exactly when they have that form, as any other reference;
what a reference means is the platform's to decide in ``model-licenses.allowed``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from components.configbase import KeyedValueError, Model

COMMIT_RE = r"^[0-9a-f]{40}$"  # a Git commit id (SHA-1), as `git rev-parse HEAD` prints it
REPOSITORY_RE = re.compile(r"^(https://|ssh://|git@)[A-Za-z0-9.-]+[:/][A-Za-z0-9._~/-]+$")
# MLflow model URIs (MLflow docs, "Referencing Artifacts" / mlflow.pyfunc.load_model): a run's artifact path, or a
# registered model and its version number.
RUN_RE = re.compile(r"^runs:/[A-Za-z0-9-]{1,64}/[A-Za-z0-9._/-]+$")
MODEL_RE = re.compile(r"^models:/[A-Za-z0-9._ -]{1,256}/[1-9][0-9]*$")
PROVENANCE_KEYS = ("source", "license", "run")  # what prod requires of every model version
REQUIRED_IN_PROD = {
    "source": "the repository and commit the version was built from (source.repository, source.commit)",
    "license": "the version's SPDX license identifier",
    "run": "the MLflow model that produced it (runs:/<run id>/<path> or models:/<name>/<version>)",
}


@cache
def _licensing():
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


# SPDX specification 2.2.2, clause 10.1.1: "LicenseRef-"[idstring], idstring "containing letters, numbers, . and/or -".
LICENSE_REF_RE = re.compile(r"^LicenseRef-[A-Za-z0-9.-]+$")


def spdx_problem(value: str) -> str | None:
    """Why ``value`` is not one SPDX licence identifier as the SPDX License List spells it, nor a user-defined
    `LicenseRef-[idstring]`, or None."""
    from license_expression import LicenseSymbol

    if value[:11].lower() == "licenseref-":
        if value.startswith("LicenseRef-") and LICENSE_REF_RE.match(value):
            return None
        return (
            f"{value!r} is not a user-defined SPDX license reference; allowed: LicenseRef- followed by letters, "
            "digits, '.' and '-' (e.g. LicenseRef-Proprietary)"
        )

    info = _licensing().validate(value)
    if info.errors:
        return f"{value!r} is not an SPDX license identifier; allowed: an identifier of the SPDX License List (e.g. Apache-2.0, MIT)"
    parsed = _licensing().parse(value)
    if type(parsed) is not LicenseSymbol:  # an expression, or an identifier WITH an exception
        return f"{value!r} is a license expression; allowed: one SPDX license identifier (e.g. Apache-2.0)"
    if info.normalized_expression != value:
        return f"{value!r} is not spelt as the SPDX License List spells it; allowed: {info.normalized_expression!r}"
    return None


def spdx_identifier(value: str) -> str:
    problem = spdx_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class Source(Model):
    """The repository a model version was built from and the commit."""

    repository: Annotated[str, Field(max_length=300)]
    commit: Annotated[str, Field(pattern=COMMIT_RE)]

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not REPOSITORY_RE.match(value):
            raise ValueError(
                f"{value!r} is not a repository URL; allowed: https://host/path, ssh://host/path or git@host:path"
            )
        return value

    @field_validator("commit", mode="before")
    @classmethod
    def _commit(cls, value: object) -> object:
        if isinstance(value, str) and not re.match(COMMIT_RE, value):
            raise ValueError(
                f"{value!r} is not a commit id; allowed: 40 lowercase hex digits (git rev-parse HEAD)"
            )
        return value


def _run_uri(value: str) -> str:
    if not (RUN_RE.match(value) or MODEL_RE.match(value)):
        raise ValueError(
            f"{value!r} is not an MLflow model URI; allowed: runs:/<run id>/<artifact path> or "
            "models:/<registered model>/<version number>"
        )
    return value


# The provenance keys of a model version, as components.serving.config.ModelVersion declares them.
LicenseField = Annotated[
    str | None, Field(max_length=100), AfterValidator(lambda v: v and spdx_identifier(v))
]
RunField = Annotated[str | None, Field(max_length=300), AfterValidator(lambda v: v and _run_uri(v))]
NotesField = Annotated[str | None, Field(max_length=1000)]


class Provenance(Model):
    """A model version's provenance keys on their own (what the stack outputs and the tags are built from)."""

    source: Source | None = None
    license: LicenseField = None
    run: RunField = None
    notes: NotesField = None

    def missing(self) -> list[str]:
        """The provenance keys this version leaves out (prod requires them all)."""
        return [key for key in PROVENANCE_KEYS if getattr(self, key) is None]


def provenance_of(version: object) -> Provenance:
    """The provenance keys of a model version (``ModelVersion`` carries them as its own fields)."""
    return Provenance(
        source=getattr(version, "source", None),
        license=getattr(version, "license", None),
        run=getattr(version, "run", None),
        notes=getattr(version, "notes", None),
    )


class ModelLicenses(Model):
    """A platform stack's `model-licenses`: the SPDX licence identifiers its environment's model versions may
    carry (e.g. no non-commercial licence in prod)."""

    allowed: Annotated[list[str], Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _identifiers(self) -> ModelLicenses:
        for index, value in enumerate(self.allowed):
            problem = spdx_problem(value)
            if problem is not None:
                raise KeyedValueError(("allowed", index), problem)
            if value in self.allowed[:index]:
                raise KeyedValueError(("allowed", index), f"{value!r} is listed twice")
        return self


# ---------------------------------------------------------------------------------------------------------
# Where provenance is carried: Kubernetes labels and annotations, AWS tags.

ANNOTATION_PREFIX = (
    "mlops.platform/"  # the platform's label and annotation domain (see policies: platform-ui)
)
PURPOSE_LABEL = f"{ANNOTATION_PREFIX}purpose"
MODEL_VERSION_PURPOSE = "model-version"  # what a model version's Deployment is for (the policies read it)
MANAGED_BY = "pulumi"
SOURCE_ANNOTATION = f"{ANNOTATION_PREFIX}source"
COMMIT_ANNOTATION = f"{ANNOTATION_PREFIX}commit"
LICENSE_ANNOTATION = f"{ANNOTATION_PREFIX}license"
RUN_ANNOTATION = f"{ANNOTATION_PREFIX}run"
NOTES_ANNOTATION = f"{ANNOTATION_PREFIX}notes"
# What prod requires on a model version's Deployment (policies/provenance.py reads the same keys).
REQUIRED_ANNOTATIONS = (SOURCE_ANNOTATION, COMMIT_ANNOTATION, LICENSE_ANNOTATION, RUN_ANNOTATION)


def version_labels(namespace: str, model: str, version: str) -> dict[str, str]:
    """The recommended labels of a model version's objects (Kubernetes docs, "Recommended Labels"): the model is
    the application, the version its version, the team's namespace the higher-level application it is part of,
    Pulumi the tool that manages it; and what the object is for (the policies find model versions by it)."""
    return {
        "app.kubernetes.io/name": model,
        "app.kubernetes.io/instance": f"{model}-{version}",
        "app.kubernetes.io/version": version,
        "app.kubernetes.io/part-of": namespace,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        PURPOSE_LABEL: MODEL_VERSION_PURPOSE,
    }


def provenance_annotations(version: Provenance) -> dict[str, str]:
    """A model version's provenance as annotations of its Deployment (only the keys it sets; its pods get
    ``pod_annotations``)."""
    values = {
        SOURCE_ANNOTATION: version.source.repository if version.source else None,
        COMMIT_ANNOTATION: version.source.commit if version.source else None,
        LICENSE_ANNOTATION: version.license,
        RUN_ANNOTATION: version.run,
        NOTES_ANNOTATION: version.notes,
    }
    return {key: value for key, value in values.items() if value is not None}


# AWS tag values: at most 256 characters of Unicode letters, spaces and digits and `_ . : / = + - @` (e.g. Service
# Quotas API Reference, Tag: pattern ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$); any other character becomes `_`.
TAG_VALUE_MAX = 256


def tag_value(value: str) -> str:
    """``value`` as a valid AWS tag value: characters outside the allowed set replaced by ``_``, cut to 256."""
    cleaned = "".join(
        char if unicodedata.category(char)[0] in "LZN" or char in "_.:/=+-@" else "_" for char in value
    )
    return cleaned[:TAG_VALUE_MAX]


# What stays on the Deployment's own metadata only, never on its pod template: free-form text a person edits
# (notes) and the run reference, whose change must not roll the pods. Source, commit and licence go on both.
DEPLOYMENT_ONLY_ANNOTATIONS = (NOTES_ANNOTATION, RUN_ANNOTATION)


def pod_annotations(version: Provenance) -> dict[str, str]:
    """A model version's provenance annotations for its pods: those of its Deployment but notes and run."""
    return {
        key: value
        for key, value in provenance_annotations(version).items()
        if key not in DEPLOYMENT_ONLY_ANNOTATIONS
    }


def provenance_tags(version: Provenance) -> dict[str, str]:
    """A model version's provenance as tags of its AWS resources (only the keys it sets; notes stay out)."""
    values = {
        "model-source": version.source.repository if version.source else None,
        "model-commit": version.source.commit if version.source else None,
        "model-license": version.license,
        "model-run": version.run,
    }
    return {key: tag_value(value) for key, value in values.items() if value is not None}


def provenance_output(version: Provenance) -> dict[str, object]:
    """A model version's provenance as a stack output (keys it leaves out are absent)."""
    values: dict[str, object] = {
        "source": {"repository": version.source.repository, "commit": version.source.commit}
        if version.source
        else None,
        "license": version.license,
        "run": version.run,
        "notes": version.notes,
    }
    return {key: value for key, value in values.items() if value is not None}
