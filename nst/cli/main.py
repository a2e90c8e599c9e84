"""Parsing neural_art.py's command line into a job (nst/job.py), with the options' defaults.

Settings checks every value (nst/settings.py); the checks here are those of the
command line itself: which options may be given together. Every bad value is
reported by `parse_args` as one sentence naming the option, with exit status 2,
before any work starts; `parse_command` raises it as an OptionError instead (a
batch checks each of its runs' command lines with it). Nothing here runs a job:
neural_art.py hands the job to its runner.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from nst.cli.options import OPTIONS, Option
from nst.job import (
    BATCH_FILE,
    FLOW_METHODS,
    TEMPORAL_WEIGHT,
    BatchJob,
    ClipJob,
    ImageJob,
    Job,
    NotebookJob,
    SettingsJob,
    WeightsJob,
    is_clip_folder,
)
from nst.run_names import new_run_folder, numbered_folder
from nst.setting_checks import SettingError
from nst.settings import Settings, settings_to_dict
from nst.video.clip_paths import is_clip


@dataclass(frozen=True)
class Command:
    """What the command line says, before it is made a job: a run's settings and every other
    option. The fields' defaults are the defaults of the options of their names
    (nst/cli/options.py)."""

    settings: Settings
    argv: list[str]
    check_weights: bool = False
    download_weights: bool = False
    weights_url: str | None = None  # None: the network's MatConvNet URL
    resume: Path | None = None
    resume_iterations: int | None = None  # --iterations given with --resume
    show_preset: bool = False
    run_notebook: Path | None = None
    executed: Path | None = None
    batch: Path | None = None
    batch_content: Path | None = None
    batch_style: Path | None = None
    sweep: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (option name, its values) each
    workers: int | None = None  # None: one per CORES_PER_WORKER cores of the Ray cluster
    ray_address: str | None = None  # None: a Ray started on this machine for the batch
    retries: int = 2
    frames: tuple[int | None, int | None] = (None, None)  # a clip's first and last, from 1
    fps: Fraction | None = None  # None: a video's own, or DEFAULT_FPS
    temporal_weight: float = TEMPORAL_WEIGHT
    frame_iterations: int | None = None  # None: LATER_SHARE of --iterations
    flow: str = FLOW_METHODS[0]
    passes: int = 1
    web: tuple[str, int] | None = None  # the live view's (host, port); None: none

    @property
    def is_batch(self) -> bool:
        """Whether the command runs a batch (nst/batch): --batch, --batch-content and
        --batch-style, --sweep, or --resume of a batch folder."""
        resumes_batch = self.resume is not None and (self.resume / BATCH_FILE).is_file()
        return bool(self.batch or self.batch_content or self.batch_style or self.sweep
                    or resumes_batch)  # fmt: skip

    @property
    def is_clip(self) -> bool:
        """Whether the command paints a clip: CONTENT is a video file or a folder of frames
        (nst.video.clip_paths.is_clip), or --resume names a clip's folder."""
        if self.resume is not None:
            return is_clip_folder(self.resume)
        return self.settings.content is not None and is_clip(self.settings.content)

    def job(self) -> Job:
        """The job the command describes."""
        s = self.settings
        if self.run_notebook is not None:
            return NotebookJob(self.run_notebook, self.executed, s.overwrite)
        if self.show_preset:
            return SettingsJob(s)
        if self.check_weights or self.download_weights:
            return WeightsJob(s, self.download_weights, self.weights_url)
        if self.is_batch:
            return BatchJob(s, self.argv, self.batch, self.batch_content, self.batch_style,
                            self.sweep, self.workers, self.ray_address, self.retries,
                            self.resume, self.weights_url)  # fmt: skip
        if self.is_clip:
            return ClipJob(s, self.argv, self.frames, self.fps, self.temporal_weight,
                           self.frame_iterations, self.flow, self.resume, self.weights_url,
                           self.passes, self.workers, self.ray_address,
                           self.retries)  # fmt: skip
        return ImageJob(s, self.argv, self.resume, self.resume_iterations, self.weights_url,
                        self.web)  # fmt: skip


SETTING_NAMES = frozenset(field.name for field in dataclasses.fields(Settings))
DEFAULTS = {
    **{f.name: f.default for f in dataclasses.fields(Command) if f.name != "settings"},
    **vars(Settings()),
}
"""Each option's default: its Settings field's (the assignment preset's), or its Command field's."""

USAGE = """
  neural_art.py CONTENT STYLE [STYLE ...] [options]    paint CONTENT in the style of STYLE
  neural_art.py CLIP STYLE [--frames A:B] [options]    paint a video file or a folder of frames
  neural_art.py --batch JOBS.csv [--sweep NAME=V1,V2]  a batch of runs on Ray (see README)
  neural_art.py --resume RUN_DIR [--iterations N]      continue a stopped run (or batch)
  neural_art.py --run-notebook PATH [--executed OUT]   run a TF 1.x notebook unchanged
  neural_art.py --check-weights | --download-weights   the weights file (of --network)"""


class OptionError(ValueError):
    """A bad option value, or options that contradict each other; the message names them."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # raised, for parse_args to report in one line
        raise OptionError(message + _did_you_mean(message))


def _did_you_mean(message: str) -> str:
    """'; did you mean --iterations?' when argparse's `message` names an unknown option close
    to one of OPTIONS (difflib's ratio of at least 0.6), else ''."""
    unknown = message.removeprefix("unrecognized arguments: ")
    if unknown == message:
        return ""
    flags = [option.flag for option in OPTIONS if option.flag.startswith("--")]
    for word in (word for word in unknown.split() if word.startswith("--")):
        close = difflib.get_close_matches(word.partition("=")[0], flags, n=1)
        if close:
            return f"; did you mean {close[0]}?"
    return ""


def _argparse_type(parse):
    """An argparse type from a parser raising ValueError with a readable message."""

    def convert(text: str):
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def _help(option: Option) -> str:
    """The option's help with its default, unless it has none worth showing."""
    default = option.shown_default or DEFAULTS.get(option.name)
    if default is None or default is False or default == ():
        return option.help
    return f"{option.help} (default: {default})"


SCHEDULE_OPTIONS = {"iterations", "coarse_levels", "coarse_iterations"}
"""The options --schedule replaces."""


def build_parser() -> argparse.ArgumentParser:
    """The parser of OPTIONS. An option left out stays out of the namespace (argparse's
    SUPPRESS), so that the preset's value can take its place."""
    parser = _Parser(
        prog="neural_art.py",
        usage=USAGE,
        allow_abbrev=False,  # --iteration is a typo, not --iterations
        description="Paint CONTENT in the style of STYLE with neural style transfer "
        "(Gatys et al. 2015). The defaults are the deeplearning.ai assignment's; --preset "
        "changes them (see --show-preset).",
        argument_default=argparse.SUPPRESS,
    )
    actions = {"flag": "store_true", "switch": argparse.BooleanOptionalAction, "list": "append"}
    for option in OPTIONS:
        extra = {"action": actions[option.kind]} if option.kind in actions else {}
        if option.parse is not None:
            extra["type"] = _argparse_type(option.parse)
        if option.nargs is not None and not option.flag.startswith("--"):
            extra["default"] = DEFAULTS[option.name]  # argparse would convert SUPPRESS itself
        for name in ("metavar", "nargs", "const"):
            if getattr(option, name) is not None:
                extra[name] = getattr(option, name)
        parser.add_argument(option.flag, help=_help(option), **extra)
    return parser


def parse_args(argv: list[str] | None = None) -> Job:
    """Parse and check the command line; exits with status 2 on a bad value, saying why in
    one line on stderr."""
    try:
        return parse_command(argv)
    except OptionError as e:
        print(f"neural_art.py: error: {e} (see --help)", file=sys.stderr)
        raise SystemExit(2) from None


def parse_command(argv: list[str] | None = None) -> Job:
    """The job of a command line, checked; OptionError names a bad value."""
    parser = build_parser()
    given = vars(parser.parse_args(argv))  # only what was given, every value checked
    values = {**DEFAULTS, **given}
    options = {k: v for k, v in given.items() if k in SETTING_NAMES and k != "preset"}
    options["styles"] = tuple(values["styles"])
    for field, replacing in (("schedule", SCHEDULE_OPTIONS), ("size", {"width", "height"})):
        if replacing & set(given):
            options.setdefault(field, None)  # they replace a preset's schedule or size
    content, resume = values["content"], values["resume"]
    batch = any(given.get(name) for name in BATCH_SOURCES)
    if "output_dir" not in given and batch:
        options["output_dir"] = numbered_folder(values["output_dir"], "batch")
    elif "output_dir" not in given and content and options["styles"] and not resume:
        options["output_dir"] = new_run_folder(values["output_dir"], content, options["styles"])
    command = Command(
        _settings(values["preset"], options, given, batch),
        argv=list(sys.argv[1:] if argv is None else argv),
        resume_iterations=given.get("iterations") if resume else None,
        sweep=tuple(values["sweep"]),
        **{k: values[k] for k in ("check_weights", "download_weights", "weights_url",
                                  "resume", "show_preset", "run_notebook", "executed", "batch",
                                  "batch_content", "batch_style", "workers", "ray_address",
                                  "retries", "frames", "fps", "temporal_weight",
                                  "frame_iterations", "flow", "passes", "web")},
    )  # fmt: skip
    _check(parser, command, given)
    return command.job()


def _settings(preset: str, options: dict, given: dict, batch: bool) -> Settings:
    """The settings of the preset with the options given; OptionError names the option of a
    value that Settings refuses. A batch's own options may be refused together only in a job
    (nst/batch/jobs.py), whose row or --sweep value may change one of them."""
    try:
        return Settings.preset_settings(preset, **options)
    except SettingError as e:
        if not (batch and e.related):
            raise OptionError(f"argument {_option_naming(e, given)}: {e.reason}") from None
    kept = {"content", "styles", "output_dir", "overwrite"}
    return Settings.preset_settings(preset, **{k: v for k, v in options.items() if k in kept})


def _option_naming(error: SettingError, given: dict) -> str:
    """The option a refused setting is reported under: the first given of its field and the
    fields its reason concerns (the network or the preset of a layer the network lacks);
    else its field's option."""
    named = [name for name in (error.field, *error.related) if _is_given(given, name)]
    return _option(named[0] if named else error.field)


BATCH_SOURCES = ("batch", "batch_content", "batch_style", "sweep")
"""The options that make a batch's jobs."""
BATCH_RUNNING = ("workers", "ray_address", "retries")
"""The options of how a batch runs, for a batch only."""
CLIP_OPTIONS = ("frames", "fps", "temporal_weight", "frame_iterations", "flow", "passes")
"""The options of how a clip is painted, for a clip only."""
CLIP_ON_RAY = ("workers", "ray_address", "retries")
"""The options of how a batch runs that also say how a clip's passes run on Ray."""


def _check(parser: argparse.ArgumentParser, command: Command, given: dict) -> None:
    """Which options may be given together (Settings has checked each value)."""
    s = command.settings
    if command.web is not None and not isinstance(command.job(), ImageJob):
        parser.error("--web shows the run of one image (CONTENT STYLE, or its --resume); "
                     "not yet a batch or a clip")  # fmt: skip
    if command.executed is not None and command.run_notebook is None:
        parser.error("--executed names the executed copy of --run-notebook PATH; give that too")
    if command.run_notebook is not None:
        extra = _given_besides(given, {"run_notebook", "executed", "overwrite"})
        if extra:
            parser.error(
                "--run-notebook runs the notebook with its own settings; only --executed and "
                f"--overwrite may be given with it, not {', '.join(extra)}"
            )
        return
    if command.is_batch:
        _check_batch(parser, command, given)
        return
    clip = _given_besides(given, set(given) - set(CLIP_OPTIONS))
    if clip and not command.is_clip and command.resume is None:
        parser.error(
            f"{', '.join(clip)} is for a clip: give a video file or a folder of frames as CONTENT"
        )
    on_ray = CLIP_ON_RAY if command.is_clip else ()
    running = _given_besides(given, set(given) - set(BATCH_RUNNING) | set(on_ray))
    if running:
        parser.error(
            f"{', '.join(running)} says how a batch runs; give --batch JOBS.csv, "
            "--batch-content DIR and --batch-style DIR, or --sweep NAME=V1,V2 as well"
        )
    if on_ray and "retries" in given and not {"workers", "ray_address"} & set(given):
        parser.error(
            "--retries says how many more times a frame whose Ray worker died is painted; "
            "give --workers or --ray-address as well (with --passes 2 or more)"
        )
    if command.resume is not None:
        on_ray_named = "--weights, --workers, --ray-address and --retries"
        allowed, named = (
            ({"weights", "weights_url", *on_ray}, on_ray_named)
            if command.is_clip
            else (
                {"iterations", "weights", "weights_url", "web"},
                "--iterations, --weights and --web",
            )
        )
        extra = _given_besides(given, {"resume", *allowed})
        if extra:
            parser.error(
                f"--resume continues with the run's own settings; only {named} may be given "
                f"with it, not {', '.join(extra)}"
            )
        return
    if command.check_weights or command.download_weights or command.show_preset:
        return
    if s.content is None or not s.styles:
        parser.error("give a CONTENT and a STYLE image")
    if "size" in given and ({"width", "height"} & set(given)):
        parser.error("give --size, or --width and --height, not both")
    beside = [_option(name) for name in sorted(SCHEDULE_OPTIONS) if name in given]
    if "schedule" in given and beside:
        parser.error(f"--schedule names every size's iterations; leave out {', '.join(beside)}")


def _check_batch(parser: argparse.ArgumentParser, command: Command, given: dict) -> None:
    """The checks of a batch's command line. The options that make runs are checked with
    each job (nst/batch/jobs.py), where a cell or a --sweep value may override them."""
    if command.resume is not None:
        extra = _given_besides(given, {"resume", *BATCH_RUNNING})
        if extra:
            parser.error(
                f"--resume {command.resume} continues a batch with its own jobs; only "
                f"--workers, --ray-address and --retries may be given with it, not "
                f"{', '.join(extra)}"
            )
        return
    modes = _given_besides(given, set(given) - {"check_weights", "download_weights",
                           "show_preset", "run_notebook", "executed"})  # fmt: skip
    if modes:
        parser.error(f"{', '.join(modes)} cannot be given with a batch")
    grid = [f"--batch-{name}" for name in ("content", "style") if given.get(f"batch_{name}")]
    if command.batch and grid:
        parser.error(f"give --batch JOBS.csv or {' and '.join(grid)}, not both")
    if len(grid) == 1:
        other = "--batch-style" if grid[0] == "--batch-content" else "--batch-content"
        parser.error(f"{grid[0]} makes a grid with {other}: give that too")
    styles = command.settings.styles
    if (command.batch or grid) and (command.settings.content is not None or styles):
        source = "JOBS.csv" if command.batch else "--batch-content and --batch-style"
        parser.error(f"a batch takes its images from {source}: give no CONTENT or STYLE")
    if not (command.batch or grid) and (command.settings.content is None or not styles):
        parser.error("--sweep repeats the runs of a batch or of CONTENT STYLE: give those")


def _given_besides(given: dict, allowed: set[str]) -> list[str]:
    """The options and arguments given on the command line other than `allowed`."""
    return [_option(name) for name in given if name not in allowed and _is_given(given, name)]


def _is_given(given: dict, name: str) -> bool:
    """Whether the option or argument `name` was given on the command line (the positional
    arguments are in `given` either way, None or empty when not given)."""
    return given.get(name) not in (None, [], ())


def _option(name: str) -> str:
    """How the command line names the option or argument of `name`: --save-every, CONTENT."""
    return name.upper() if name in ("content", "styles") else "--" + name.replace("_", "-")


def show_settings(job: SettingsJob) -> int:
    """--show-preset: the settings (the preset with the options given) as a JSON object, one
    setting a line; exit status 0."""
    values = settings_to_dict(job.settings)
    lines = (f"  {json.dumps(name)}: {json.dumps(value)}" for name, value in values.items())
    print("{\n" + ",\n".join(lines) + "\n}")
    return 0
