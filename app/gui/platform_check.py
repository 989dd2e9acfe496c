"""Before the QApplication exists: can Qt's xcb platform plugin load on this Linux desktop?

On a fresh Debian/Ubuntu desktop Qt aborts with "Could not load the Qt platform plugin xcb" (and
a core dump) when a library the plugin links against is missing; its message names
libxcb-cursor0 even when libxcb-icccm4 or libxcb-keysyms1 is what is missing. This module reads
the libraries the plugin (and PySide6's libQt6XcbQpa) really need from their ELF headers, tries
each system library, and words what is missing as the exact `apt` / `dnf` command. No Qt here.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
from pathlib import Path

# soname -> (Debian/Ubuntu package, Fedora package)
PACKAGES = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libSM.so.6": ("libsm6", "libSM"),
    "libICE.so.6": ("libice6", "libICE"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
}
# the xcb plugin's needs since Qt 6.5, for when its files cannot be read
FALLBACK_NEEDED = ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-image.so.0", "libxcb-keysyms.so.1",
                   "libxcb-render-util.so.0", "libxcb-randr.so.0", "libxcb-shape.so.0", "libxcb-xkb.so.1",
                   "libxkbcommon-x11.so.0"]


def uses_xcb(environ=os.environ, platform: str = sys.platform) -> bool:
    """Qt will pick the xcb plugin: Linux, and QT_QPA_PLATFORM says xcb (or nothing, with no Wayland session)."""
    if not platform.startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return chosen.split(";")[0].split(":")[0] == "xcb"
    return not environ.get("WAYLAND_DISPLAY")


def elf_needed(path: Path) -> list[str]:
    """The DT_NEEDED entries of a 64-bit little-endian ELF file (what it links against)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path} is not a 64-bit little-endian ELF file")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads, dynamic = [], None
    for i in range(phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz, _memsz, _align = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + i * phentsize)
        if p_type == 1:  # PT_LOAD
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == 2:  # PT_DYNAMIC
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return []

    def file_offset(vaddr: int) -> int:
        for start, offset, size in loads:
            if start <= vaddr < start + size:
                return offset + vaddr - start
        raise ValueError("address outside the loaded segments")

    needed, strtab = [], None
    for i in range(dynamic[1] // 16):
        tag, value = struct.unpack_from("<qQ", data, dynamic[0] + i * 16)
        if tag == 0:  # DT_NULL
            break
        if tag == 1:  # DT_NEEDED
            needed.append(value)
        elif tag == 5:  # DT_STRTAB
            strtab = file_offset(value)
    if strtab is None:
        return []
    return [data[strtab + n : data.index(b"\0", strtab + n)].decode() for n in needed]


def plugin_files() -> list[Path]:
    try:
        import importlib.util

        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return []
    if spec is None or spec.origin is None:
        return []
    qt = Path(spec.origin).parent / "Qt"
    return [f for f in (qt / "plugins" / "platforms" / "libqxcb.so", qt / "lib" / "libQt6XcbQpa.so.6") if f.is_file()]


def _loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(files: list[Path] | None = None, loadable=_loadable) -> list[str]:
    """The system libraries the xcb plugin needs that cannot be loaded (Qt's own are not checked)."""
    needed: list[str] = []
    for f in plugin_files() if files is None else files:
        try:
            needed += elf_needed(f)
        except (OSError, ValueError, struct.error):
            needed += FALLBACK_NEEDED
    if not needed:
        needed = list(FALLBACK_NEEDED)
    system = [n for n in dict.fromkeys(needed) if not n.startswith(("libQt6", "libpyside6", "libshiboken6"))
              and n not in ("libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1")]
    return [n for n in system if not loadable(n)]


def distro_family(os_release: str | None = None) -> str:
    """'debian', 'fedora' or '' (unknown), from /etc/os-release."""
    if os_release is None:
        try:
            os_release = Path("/etc/os-release").read_text(encoding="utf-8", errors="replace")
        except OSError:
            os_release = ""
    ids = set()
    for line in os_release.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            ids.update(value.strip().strip('"').lower().split())
    if ids & {"debian", "ubuntu"}:
        return "debian"
    if ids & {"fedora", "rhel", "centos"}:
        return "fedora"
    return ""


def install_commands(missing: list[str], family: str = "") -> list[str]:
    apt = sorted({PACKAGES[m][0] for m in missing if m in PACKAGES})
    dnf = sorted({PACKAGES[m][1] for m in missing if m in PACKAGES})
    commands = []
    if apt and family in ("debian", ""):
        commands.append(f"sudo apt install {' '.join(apt)}")
    if dnf and family in ("fedora", ""):
        commands.append(f"sudo dnf install {' '.join(dnf)}")
    return commands


def missing_message(missing: list[str], family: str = "") -> str:
    lines = ["Rekurator cannot open its window: Qt's X11 (xcb) platform plugin needs system libraries that are "
             f"not installed: {', '.join(missing)}.", ""]
    commands = install_commands(missing, family)
    if commands:
        lines.append("Install them with:")
        lines += [f"    {c}" for c in commands]
    else:
        lines.append("Install the packages that provide them with your distribution's package manager.")
    lines += ["", "Then start Rekurator again. (On a Wayland session, QT_QPA_PLATFORM=wayland uses Wayland instead.)"]
    return "\n".join(lines)
