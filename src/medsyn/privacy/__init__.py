"""Privacy of real data: measure re-identification risk, anonymise, release under DP, pseudonymise, de-identify files.

- risk and privacy models measured on a table: :func:`assess_risk`, :func:`k_anonymity`,
  :func:`l_diversity`, :func:`t_closeness`, :func:`reidentification_risk`, :func:`safe_harbor_check`;
- anonymisation by optimal full-domain generalisation or Mondrian: :func:`anonymize`;
- differentially private releases charged to a :class:`PrivacyBudget` (the shared
  :class:`PrivacyAccountant` the DP generators charge too): :func:`dp_count`, :func:`dp_mean`, …;
- keyed pseudonyms, an encrypted re-identification vault, date shifting, free-text scrubbing;
- de-identification of DICOM, EDF/EDF+ and WFDB files: :mod:`medsyn.privacy.deid`.

Algorithms here never open a database: the governance layer persists budgets and records use.
"""

from medsyn.privacy._accountant import PrivacyAccountant, PrivacyGuarantee, Spend, cdp_eps, cdp_rho
from medsyn.privacy._anonymize import METHODS, AnonymizationInfeasible, AnonymizationResult, anonymize
from medsyn.privacy._budget import PrivacyBudget, charge
from medsyn.privacy._classes import EquivalenceClasses, equivalence_classes
from medsyn.privacy._criteria import LVariant, Requirements, TDistance
from medsyn.privacy._dateshift import DateShift, DateShifter
from medsyn.privacy._dp import DPRelease, NoiseTerm, dp_count, dp_histogram, dp_mean, dp_quantiles
from medsyn.privacy._hierarchy import Hierarchy
from medsyn.privacy._hierarchy_build import (
    HIERARCHY_KINDS,
    HierarchySpec,
    age_hierarchy,
    date_hierarchy,
    default_hierarchy,
    flat_hierarchy,
    interval_hierarchy,
    load_hierarchies,
    mapping_hierarchy,
    ordinal_hierarchy,
    prefix_hierarchy,
    read_mapping_csv,
)
from medsyn.privacy._hipaa import (
    HipaaIdentifier,
    SafeHarborCertainty,
    SafeHarborFinding,
    SafeHarborReport,
    safe_harbor_check,
)
from medsyn.privacy._keys import KEY_ENV_VAR, SecretKey, load_key
from medsyn.privacy._lattice import SearchStats
from medsyn.privacy._loss import LOSSES, LossReport
from medsyn.privacy._models import (
    AttributeCloseness,
    AttributeDiversity,
    DeltaPresence,
    KAnonymity,
    KMap,
    LDiversity,
    LDiversityKind,
    TCloseness,
    TClosenessKind,
    delta_presence,
    k_anonymity,
    k_map,
    l_diversity,
    t_closeness,
)
from medsyn.privacy._mondrian import MondrianStats
from medsyn.privacy._pseudonym import Pseudonymizer, Pseudonyms, canonical_values
from medsyn.privacy._pseudotable import PseudonymizationReport, PseudonymizationResult, pseudonymize_table
from medsyn.privacy._release_checks import ModelCheck, RiskSummary
from medsyn.privacy._risk import (
    AttackerRisk,
    MarketerRisk,
    PopulationUniqueness,
    ReidentificationRisk,
    UniquenessModel,
    population_uniqueness,
    reidentification_risk,
)
from medsyn.privacy._risk_report import DEFAULT_SAMPLING_FRACTION, RiskFiles, RiskLimits, RiskReport, assess_risk
from medsyn.privacy._scrub import RECOGNIZERS, Recognizer, Scrubber, ScrubResult, ScrubSpan, load_names
from medsyn.privacy._transform import generalize, microaggregate, suppress_cells, suppress_records, top_bottom_code
from medsyn.privacy._utility import UtilityReport
from medsyn.privacy._vault import Reidentification, ReidentificationVault, VaultAccess
from medsyn.privacy.deid import (
    DeidOptions,
    DeidReport,
    DeidRun,
    deidentify_dicom,
    deidentify_dicom_files,
    deidentify_edf,
    deidentify_edf_files,
    deidentify_wfdb,
    deidentify_wfdb_files,
)

__all__ = [
    "DEFAULT_SAMPLING_FRACTION",
    "HIERARCHY_KINDS",
    "KEY_ENV_VAR",
    "LOSSES",
    "METHODS",
    "RECOGNIZERS",
    "AnonymizationInfeasible",
    "AnonymizationResult",
    "AttackerRisk",
    "AttributeCloseness",
    "AttributeDiversity",
    "DPRelease",
    "DateShift",
    "DateShifter",
    "DeidOptions",
    "DeidReport",
    "DeidRun",
    "DeltaPresence",
    "EquivalenceClasses",
    "Hierarchy",
    "HierarchySpec",
    "HipaaIdentifier",
    "KAnonymity",
    "KMap",
    "LDiversity",
    "LDiversityKind",
    "LVariant",
    "LossReport",
    "MarketerRisk",
    "ModelCheck",
    "MondrianStats",
    "NoiseTerm",
    "PopulationUniqueness",
    "PrivacyAccountant",
    "PrivacyBudget",
    "PrivacyGuarantee",
    "PseudonymizationReport",
    "PseudonymizationResult",
    "Pseudonymizer",
    "Pseudonyms",
    "Recognizer",
    "Reidentification",
    "ReidentificationRisk",
    "ReidentificationVault",
    "Requirements",
    "RiskFiles",
    "RiskLimits",
    "RiskReport",
    "RiskSummary",
    "SafeHarborCertainty",
    "SafeHarborFinding",
    "SafeHarborReport",
    "ScrubResult",
    "ScrubSpan",
    "Scrubber",
    "SearchStats",
    "SecretKey",
    "Spend",
    "TCloseness",
    "TClosenessKind",
    "TDistance",
    "UniquenessModel",
    "UtilityReport",
    "VaultAccess",
    "age_hierarchy",
    "anonymize",
    "assess_risk",
    "canonical_values",
    "cdp_eps",
    "cdp_rho",
    "charge",
    "date_hierarchy",
    "default_hierarchy",
    "deidentify_dicom",
    "deidentify_dicom_files",
    "deidentify_edf",
    "deidentify_edf_files",
    "deidentify_wfdb",
    "deidentify_wfdb_files",
    "delta_presence",
    "dp_count",
    "dp_histogram",
    "dp_mean",
    "dp_quantiles",
    "equivalence_classes",
    "flat_hierarchy",
    "generalize",
    "interval_hierarchy",
    "k_anonymity",
    "k_map",
    "l_diversity",
    "load_hierarchies",
    "load_key",
    "load_names",
    "mapping_hierarchy",
    "microaggregate",
    "ordinal_hierarchy",
    "population_uniqueness",
    "prefix_hierarchy",
    "pseudonymize_table",
    "read_mapping_csv",
    "reidentification_risk",
    "safe_harbor_check",
    "suppress_cells",
    "suppress_records",
    "t_closeness",
    "top_bottom_code",
]
