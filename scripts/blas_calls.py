"""Which BLAS and LAPACK routines a command calls, and from where.

    .venv/bin/python scripts/blas_calls.py simcore run --draws 20000 --no-charts -q -o /tmp/run
    .venv/bin/python scripts/blas_calls.py python -c "import numpy as np; np.linalg.pinv(...)"

Nothing simcore stores may depend on BLAS or LAPACK (their results change with the thread
count and the CPU; docs/model.md, section 6). tests/run/test_thread_settings.py catches the calls
whose bits change on the test machine and the direct calls in simcore's own code; this finds
every call, including those made inside other libraries. It compiles (with gcc, x86-64 Linux)
a library that stands in for every routine the OpenBLAS copies of numpy and scipy export to
Python's extension modules, loads it with LD_PRELOAD (child processes inherit it), and
prints each routine with the innermost simcore (or SALib) frame of every distinct Python
stack that called it ("numpy's import-time self-check": numpy calls sdot once when imported).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

SITE = Path(sysconfig.get_paths()["purelib"])

SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef int PyGILState_STATE;
extern PyGILState_STATE PyGILState_Ensure(void) __attribute__((weak));
extern void PyGILState_Release(PyGILState_STATE) __attribute__((weak));
extern int PyRun_SimpleString(const char*) __attribute__((weak));
extern int Py_IsInitialized(void) __attribute__((weak));
extern const char* blas_names[];
void* blas_real[%(count)d];

/* Called by each stand-in with its index: note the caller's Python stack (once per distinct
   stack), return the real routine's address for the stand-in to jump to. */
void* blas_called(long i) {
    if (!blas_real[i]) {
        char libraries[8192];
        const char* listed = getenv("BLAS_CALLS_LIBRARIES");
        snprintf(libraries, sizeof libraries, "%%s", listed ? listed : "");
        for (char* path = strtok(libraries, ":"); path && !blas_real[i]; path = strtok(NULL, ":")) {
            void* handle = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
            if (handle) blas_real[i] = dlsym(handle, blas_names[i]);
        }
        if (!blas_real[i]) {
            fprintf(stderr, "blas_calls: %%s not found\n", blas_names[i]);
            abort();
        }
    }
    const char* log = getenv("BLAS_CALLS_LOG");
    if (log && Py_IsInitialized && Py_IsInitialized()) {
        PyGILState_STATE state = PyGILState_Ensure();
        char code[8192];
        snprintf(code, sizeof code,
            "import sys as _s, traceback as _t\n"
            "_k = ('%%s', tuple((f.filename, f.lineno) for f in _t.extract_stack()))\n"
            "_seen = _s.__dict__.setdefault('_blas_calls_seen', set())\n"
            "if _k not in _seen:\n"
            "    _seen.add(_k)\n"
            "    with open('%%s', 'a') as _f:\n"
            "        _f.write('=== ' + _k[0] + chr(10))\n"
            "        _t.print_stack(file=_f)\n", blas_names[i], log);
        PyRun_SimpleString(code);
        PyGILState_Release(state);
    }
    return blas_real[i];
}
"""

# A stand-in keeps every argument register (integer, vector and %%rax, the vector count of
# variadic calls), asks blas_called for the real routine and jumps to it with the same stack.
STAND_IN = """
.globl {name}
.type {name}, @function
{name}:
    push %rbp
    mov %rsp, %rbp
    push %rdi; push %rsi; push %rdx; push %rcx; push %r8; push %r9; push %rax; push %r10
    sub $128, %rsp
    and $-16, %rsp
{save}
    mov ${index}, %rdi
    call blas_called
    mov %rax, %r11
{restore}
    lea -64(%rbp), %rsp
    pop %r10; pop %rax; pop %r9; pop %r8; pop %rcx; pop %rdx; pop %rsi; pop %rdi
    pop %rbp
    jmp *%r11
"""


def openblas_libraries() -> list[Path]:
    return sorted(SITE.glob("numpy.libs/libscipy_openblas*.so")) + sorted(
        SITE.glob("scipy.libs/libscipy_openblas*.so"))


def _symbols(path: Path, which: str) -> list[list[str]]:
    out = subprocess.run(["nm", "-D", which, str(path)], capture_output=True, text=True).stdout
    return [line.split() for line in out.splitlines()]


def routines(libraries: list[Path]) -> list[str]:
    """Functions the OpenBLAS copies define that some other extension module imports."""
    defined = {f[2] for lib in libraries for f in _symbols(lib, "--defined-only")
               if len(f) == 3 and f[1] == "T"}
    imported = set()
    for module in SITE.rglob("*.so"):
        if "openblas" not in module.name:
            imported |= {f[-1].split("@")[0] for f in _symbols(module, "--undefined-only")}
    return sorted(defined & imported)


def build(names: list[str], folder: Path) -> Path:
    listing = ",".join(f'"{n}"' for n in names)
    (folder / "shim.c").write_text(SHIM % {"count": len(names)}
                                   + f"const char* blas_names[] = {{{listing}}};\n")
    save = "\n".join(f"    movdqu %xmm{k}, {16 * k}(%rsp)" for k in range(8))
    restore = "\n".join(f"    movdqu {16 * k}(%rsp), %xmm{k}" for k in range(8))
    (folder / "stand_ins.s").write_text(
        ".text\n" + "".join(STAND_IN.format(name=n, index=i, save=save, restore=restore)
                            for i, n in enumerate(names))
        + '.section .note.GNU-stack,"",@progbits\n')
    library = folder / "libblas_calls.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(library), str(folder / "shim.c"),
                    str(folder / "stand_ins.s"), "-ldl"], check=True)
    return library


def summary(log: Path) -> dict[str, set[str]]:
    """routine -> innermost simcore/SALib frame of each calling stack."""
    sites: dict[str, set[str]] = {}
    name, inner = None, None

    def flush():
        if name:
            sites.setdefault(name, set()).add(inner or "(no simcore or SALib frame)")
    for line in log.read_text().splitlines() if log.exists() else []:
        if line.startswith("=== "):
            flush()
            name, inner = line[4:], None
        elif "in _sanity_check" in line:          # numpy checks its BLAS when imported
            inner = "numpy's import-time self-check"
        elif match := re.search(r'((?:simcore|SALib)/[^"]*)", line (\d+), in (\S+)', line):
            inner = f"{match[1]}:{match[2]} {match[3]}"
    flush()
    return sites


def main(command: list[str]) -> int:
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    libraries = openblas_libraries()
    with tempfile.TemporaryDirectory() as folder:
        library = build(routines(libraries), Path(folder))
        log = Path(folder) / "calls.log"
        env = {**os.environ, "LD_PRELOAD": str(library), "BLAS_CALLS_LOG": str(log),
               "BLAS_CALLS_LIBRARIES": ":".join(map(str, libraries))}
        status = subprocess.run(command, env=env).returncode
        sites = summary(log)
    print(f"BLAS/LAPACK routines called ({len(sites)}):" if sites else "no BLAS/LAPACK call")
    for name in sorted(sites):
        for where in sorted(sites[name]):
            print(f"  {name:30s} {where}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
