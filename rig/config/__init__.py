"""Reading the rig's YAML files: one positioned loader (`source`) and typed models checked with the
file's own lines in every error (`validate`). A leaf package: it imports nothing else from the rig."""

from rig.config.source import Pos, PosDict, PosList, YamlError, load_yaml
from rig.config.validate import ConfigFileError, FileModel, validate

__all__ = ["ConfigFileError", "FileModel", "Pos", "PosDict", "PosList", "YamlError", "load_yaml", "validate"]
