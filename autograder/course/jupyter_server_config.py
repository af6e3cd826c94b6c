"""Jupyter server configuration of the instructor's formgrader server, started in this folder as docs/instructors.md
says (its walkthrough, step 6):

    jupyter lab --no-browser --ip=127.0.0.1 --port=8888 --config=jupyter_server_config.py

Every page of that server (the formgrader, and JupyterLab when it opens a submission) comes with a
Content-Security-Policy under which a page loads nothing from another host: no image, style sheet, font, media or
connection to anywhere but the server itself (and ``data:`` images and videos, which the notebook's figures and
videos are). A student's output or markdown that slipped past the sanitizer (``autograder/outputs.py``) can then
neither call a listener of the student's (a beacon in ``<img src>`` or CSS ``url()``) nor load a style sheet.

Scripts stay allowed inline and through eval: the formgrader's own pages are inline scripts and ``onclick``
handlers, JupyterLab needs eval, and student content never carries a script (the sanitizer removes every one).
The one host allowed besides the server is where the formgrader's page (nbgrader's template, from nbconvert's)
loads MathJax for the notebook's math: scripts and fonts only, so that the math of the questions and answers
renders when the instructor's machine is online; offline, the math shows as TeX and nothing else changes.
"""

c = get_config()  # noqa: F821 - provided by traitlets when the Jupyter server loads this file

MATHJAX_HOST = "https://cdnjs.cloudflare.com"
CSP = "; ".join([
    "default-src 'self'",
    # JupyterLab compiles its settings' JSON schemas with Function() (ajv): without 'unsafe-eval' it does not start
    f"script-src 'self' 'unsafe-inline' 'unsafe-eval' {MATHJAX_HOST}",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "media-src 'self' data: blob:",
    f"font-src 'self' data: {MATHJAX_HOST}",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "frame-src 'self' blob: data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
])
c.ServerApp.tornado_settings = {"headers": {"Content-Security-Policy": CSP}}
