"""Renders the app icon (resources/bytes2beats.svg) into the sizes each platform wants.

    .venv/bin/python packaging/make_icons.py

writes resources/icons/hicolor/<N>x<N>/apps/bytes2beats.png (the freedesktop icon theme's
layout, for Linux menus), bytes2beats.ico (Windows) and bytes2beats.icns (macOS). The
outputs are committed; run this again after changing the SVG.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "bytes2beats.svg"
OUT = ROOT / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(size: int):
    """The SVG drawn at size x size, as a Pillow image (RGBA)."""
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(str(SVG)).render(painter)
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    import io

    return Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGBA")


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication(sys.argv)  # noqa: F841 (Qt's painting needs one)
    images = {size: render(size) for size in SIZES}
    for size, image in images.items():
        folder = OUT / "hicolor" / f"{size}x{size}" / "apps"
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / "bytes2beats.png")
    images[256].save(OUT / "bytes2beats.ico", sizes=[(s, s) for s in SIZES if s <= 256])
    images[512].save(OUT / "bytes2beats.icns")
    print(f"icons written under {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
