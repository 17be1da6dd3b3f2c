"""De-identification of medical files: DICOM (PS3.15 Annex E), EDF/EDF+ headers and WFDB headers.

``deidentify_dicom`` applies the Basic Application Level Confidentiality Profile of DICOM PS3.15
(Table E.1-1, edition 2026d, packaged as data) with its Retain UIDs, Retain Longitudinal
Temporal Information (full or modified dates), Retain Patient Characteristics, Retain Device /
Institution Identity, Clean Descriptors and Retain Safe Private options. ``deidentify_edf`` and
``deidentify_wfdb`` clean the headers of EDF/EDF+ and WFDB records and copy their signals
unchanged. The ``*_files`` functions take a file or a folder, share one key across it and write
all outputs atomically. Heavy readers (pydicom) load only when called.
"""

from medsyn.privacy.deid._dicom import DicomDeid, deidentify_dicom
from medsyn.privacy.deid._dicom_folder import deidentify_dicom_files, find_dicom_files
from medsyn.privacy.deid._dicom_io import SafePrivateTag, read_dicom, read_safe_private, write_dicom
from medsyn.privacy.deid._edf import EdfHeader, deidentify_edf, read_edf_header
from medsyn.privacy.deid._profile import Action, DeidOptions, ProfileRow, ProfileTable, load_profile
from medsyn.privacy.deid._report import DeidFinding, DeidReport, DeidRun, FindingLevel
from medsyn.privacy.deid._runs import deidentify_edf_files, deidentify_wfdb_files
from medsyn.privacy.deid._secret import Keyring, UidMap
from medsyn.privacy.deid._wfdb import deidentify_wfdb

__all__ = [
    "Action",
    "DeidFinding",
    "DeidOptions",
    "DeidReport",
    "DeidRun",
    "DicomDeid",
    "EdfHeader",
    "FindingLevel",
    "Keyring",
    "ProfileRow",
    "ProfileTable",
    "SafePrivateTag",
    "UidMap",
    "deidentify_dicom",
    "deidentify_dicom_files",
    "deidentify_edf",
    "deidentify_edf_files",
    "deidentify_wfdb",
    "deidentify_wfdb_files",
    "find_dicom_files",
    "load_profile",
    "read_dicom",
    "read_edf_header",
    "read_safe_private",
    "write_dicom",
]
