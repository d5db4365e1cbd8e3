"""The plan report's renderings: JSON-ready data (`data`), a short plain-text summary
(`text`) and a self-contained HTML page (`html`, its styles and script in `page`).
The report itself is read from the read tables by `projections.report`."""
