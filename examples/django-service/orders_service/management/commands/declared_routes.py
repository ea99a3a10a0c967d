"""Prints the routes this app declares, one "METHOD /path/{param}" per line: the list
strangler-proxy's coverage: reads (coverage.declared.<backend>.list).

    python3 manage.py declared_routes > declared-routes.txt
"""
import re
import sys

from django.core.management.base import BaseCommand
from django.urls import URLPattern, URLResolver, get_resolver

CONVERTER = re.compile(r"<(?:[^>:]+:)?([^>]+)>")
NAMED_GROUP = re.compile(r"\(\?P<([^>]+)>[^)]*\)")


def template(pattern):
    """A RoutePattern ("api/orders/<int:order_id>") or a simple RegexPattern as "api/orders/{order_id}"."""
    text = str(pattern)
    if getattr(pattern, "regex", None) is not None and not hasattr(pattern, "converters"):
        text = NAMED_GROUP.sub(lambda m: "{%s}" % m.group(1), text.lstrip("^").rstrip("$"))
        if re.search(r"[\\()\[\]*+?|^$]", text):
            return None
        return text
    return CONVERTER.sub(lambda m: "{%s}" % m.group(1), text)


def methods_of(callback):
    declared = getattr(callback, "declared_methods", None)
    if declared:
        return declared
    view_class = getattr(callback, "view_class", None)
    if view_class is not None:
        return [m.upper() for m in view_class.http_method_names if m not in ("head", "options", "trace") and hasattr(view_class, m)]
    return ("GET",)


def walk(patterns, prefix=""):
    for entry in patterns:
        part = template(entry.pattern)
        if part is None:
            sys.stderr.write("skipped (not expressible as a template): %s%s\n" % (prefix, entry.pattern))
            continue
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, prefix + part)
        elif isinstance(entry, URLPattern):
            yield prefix + part, methods_of(entry.callback)


class Command(BaseCommand):
    help = "Prints the routes this app declares as METHOD /path/{param} lines."

    def add_arguments(self, parser):
        parser.add_argument("--exclude", action="append", default=[], help="a regular expression of paths to leave out (repeatable)")

    def handle(self, *args, **options):
        excluded = [re.compile(x) for x in options["exclude"]]
        for path, methods in walk(get_resolver().url_patterns):
            path = "/" + path
            if any(x.search(path) for x in excluded):
                continue
            for method in methods:
                self.stdout.write("%s %s" % (method, path))
