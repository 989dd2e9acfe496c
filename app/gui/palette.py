"""Light and dark palettes (on the Fusion style, which follows the palette on every platform)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

THEMES = ("system", "light", "dark")


def _dark() -> QPalette:
    p = QPalette()
    roles = QPalette.ColorRole
    colours = {
        roles.Window: "#2b2b2b", roles.WindowText: "#e6e6e6", roles.Base: "#1e1e1e", roles.AlternateBase: "#333333",
        roles.ToolTipBase: "#3a3a3a", roles.ToolTipText: "#f0f0f0", roles.Text: "#e6e6e6", roles.Button: "#3a3a3a",
        roles.ButtonText: "#e6e6e6", roles.BrightText: "#ff6b6b", roles.Highlight: "#3d6fb4",
        roles.HighlightedText: "#ffffff", roles.Link: "#7fb0ff", roles.Mid: "#5a5a5a", roles.PlaceholderText: "#9a9a9a",
    }
    for role, colour in colours.items():
        p.setColor(role, QColor(colour))
    for role in (roles.Text, roles.WindowText, roles.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a7a"))
    return p


def apply_theme(app: QApplication, theme: str) -> str:
    """Apply 'system', 'light' or 'dark'; an unknown name falls back to 'system'. The theme applied."""
    if theme not in THEMES:
        theme = "system"
    if theme == "system":
        app.setPalette(QPalette())
        return theme
    app.setStyle(QStyleFactory.create("Fusion"))
    app.setPalette(_dark() if theme == "dark" else app.style().standardPalette())
    return theme
