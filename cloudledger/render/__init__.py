"""Renderers: tables to CSV / XLSX / Markdown / HTML, and inline-SVG charts."""
