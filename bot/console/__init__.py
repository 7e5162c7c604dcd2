"""The staff console at /console (issue 14): support agents watch conversations live and
take over, work the queues of service requests and replies to notices; operations
publish outages; marketing sends broadcasts; supervisors read the dashboard.

Server-rendered pages (Jinja2, autoescape on) with a little JavaScript of our own, all
served from here (no CDN: it works on an intranet). Every route names the roles that
may use it (access.py); the console calls services (bot/support, bot/notify,
bot/store), never handlers.
"""
