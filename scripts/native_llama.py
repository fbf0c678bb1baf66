"""Build the pinned xllamacpp from its PyPI source for this CPU, once per CPU, and install it.

The PyPI wheel of xllamacpp is compiled for AVX2. On a CPU with AVX-512, llama.cpp built for the
CPU itself reads prompts ~35% faster (llama-bench, 2 threads, 340-token prompt: 108 tok/s against
80 tok/s for the same source built for AVX2; generation is memory-bound and stays ~29 tok/s), and
reading the prompt is most of the wait before an answer's first word.

`make install` runs this after installing the project. The wheel is cached in the cache dir under
the xllamacpp version and a hash of the CPU's flags and the build options, so a second clone on the
same machine installs it in seconds. The installed wheel must answer one prompt in a child process
before it is kept: a build that dies on this CPU (a VM that shows AMX flags it does not allow killed
every answer with SIGILL under -march=native) is marked unusable and the PyPI wheel goes back in.
Any failure keeps the PyPI wheel, which works the same, only slower.
"""

import hashlib
import importlib.metadata
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import TextIO

from rag.settings import get_settings

# Both switched-off parts fetch their sources from GitHub at build time, which the registries-only
# network cannot reach, and the local server needs neither: no llguidance grammars, no TLS on loopback.
CMAKE_ARGS = "-DLLAMA_LLGUIDANCE=OFF -DLLAMA_BUILD_BORINGSSL=OFF -DLLAMA_OPENSSL=OFF"
# The instruction sets are named, not -march=native: a VM can list AMX in /proc/cpuinfo while its
# kernel refuses the tiles, and the AMX kernels then die with SIGILL on the first prompt.
ISA_ARGS = "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=ON"
OPTIONAL_ISA = {"avx512vbmi": "GGML_AVX512_VBMI", "avx512_vnni": "GGML_AVX512_VNNI", "avx512_bf16": "GGML_AVX512_BF16"}
# One short answer from the installed wheel, in a child process so that a crash is seen, not suffered;
# the server runs in that process (not as the shared model service), so nothing outlives the check.
SMOKE_TEST = (
    "import json, urllib.request; from rag.local_model import start_local_server; "
    "from rag.settings import get_settings; server = start_local_server(get_settings()); "
    "body = {'model': server.model_name, 'messages': [{'role': 'user', 'content': 'Say yes.'}], 'max_tokens': 4}; "
    "request = urllib.request.Request(server.base_url + '/chat/completions', json.dumps(body).encode(), "
    "{'Content-Type': 'application/json'}); "
    "reply = urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=120).read(); "
    "print(json.loads(reply)['choices'][0]['message']['content']); server.stop()"
)
# xllamacpp's setup.py links these archives whatever the CMake options; empty ones stand in for them.
STUB_ARCHIVES = ("libllguidance.a", "libssl.a", "libcrypto.a")


def cpu_flags() -> set[str]:
    """The instruction-set flags of this machine's CPU, from /proc/cpuinfo."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def pip(log: TextIO, *args: str, env: dict[str, str] | None = None) -> None:
    """Run pip in this interpreter, its output (compiler warnings and all) into the log."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT, env=env)


def cmake_args(flags: set[str]) -> str:
    """The build options for a CPU with these flags: no downloads, and its own instruction sets."""
    extra = " ".join(f"-D{option}=ON" for flag, option in OPTIONAL_ISA.items() if flag in flags)
    return f"{CMAKE_ARGS} {ISA_ARGS} {extra}".strip()


def answers_a_prompt(log: TextIO) -> bool:
    """True when the installed xllamacpp serves one prompt in a child process without crashing."""
    try:
        done = subprocess.run([sys.executable, "-c", SMOKE_TEST], stdout=log, stderr=subprocess.STDOUT, timeout=300)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def build_wheel(version: str, out: Path, log: TextIO, args: str) -> Path:
    """Download the sdist of xllamacpp==version and build a wheel of it for this CPU into out."""
    with tempfile.TemporaryDirectory(prefix="xllamacpp-") as tmp:
        work = Path(tmp)
        pip(log, "download", "--no-deps", "--no-binary", "xllamacpp", f"xllamacpp=={version}", "-d", str(work))
        [sdist] = work.glob("xllamacpp-*.tar.gz")
        with tarfile.open(sdist) as archive:
            archive.extractall(work, filter="data")
        source = work / f"xllamacpp-{version}"
        stubs = source / "thirdparty" / "llama.cpp" / "build" / "stubs"
        stubs.mkdir(parents=True)
        for name in STUB_ARCHIVES:
            subprocess.run(["ar", "rcs", str(stubs / name)], check=True)
        pip(log, "wheel", "--no-deps", "-w", str(out), str(source), env={**os.environ, "CMAKE_ARGS": args})
    return next(out.glob("xllamacpp-*.whl"))


def main() -> int:
    flags = cpu_flags()
    if platform.system() != "Linux" or platform.machine() != "x86_64" or "avx512f" not in flags:
        print("native llama.cpp: no AVX-512 here; the PyPI wheel of xllamacpp, built for AVX2, is as fast")
        return 0
    version = importlib.metadata.version("xllamacpp")
    args = cmake_args(flags)
    tag = hashlib.sha256(" ".join([*sorted(flags), args]).encode()).hexdigest()[:12]
    folder = get_settings().cache_dir / "wheels" / f"xllamacpp-{version}-cpu-{tag}"
    unusable = folder / "unusable"
    keeping = "Keeping the PyPI wheel of xllamacpp: everything works, and reads prompts about a quarter slower."
    if unusable.exists():
        print(f"native llama.cpp: the build for this CPU crashed here before ({unusable}). {keeping}")
        return 0
    wheel = next(folder.glob("xllamacpp-*.whl"), None)
    log_path = folder / "build.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with log_path.open("w") as log:
            if wheel is None:
                print(f"native llama.cpp: building xllamacpp {version} for this CPU (~6 min on 2 cores, once)")
                wheel = build_wheel(version, folder, log, args)
            pip(log, "install", "--no-deps", "--force-reinstall", str(wheel))
            if not answers_a_prompt(log):
                unusable.touch()
                pip(log, "install", "--no-deps", "--force-reinstall", f"xllamacpp=={version}")
                print(f"native llama.cpp: the build crashed on its first prompt (see {log_path}). {keeping}")
                return 0
    except (subprocess.CalledProcessError, OSError, ValueError, StopIteration) as ex:
        print(f"native llama.cpp: the build failed ({ex}; see {log_path}). {keeping}")
        return 0
    print(f"native llama.cpp: installed {wheel.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
