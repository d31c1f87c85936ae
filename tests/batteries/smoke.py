# tests/batteries/smoke.py: runs INSIDE the guest (tests/batteries/e2e_batteries.c
# runs it with a large budget). Every package of the batteries is imported and
# does one real piece of work; files go to /app, the run's workspace.
# Prints "ok NAME" or "FAIL NAME: why" per check, then "N passed, N failed".
import io
import sys
import traceback

results = []


def check(name):
    def wrap(fn):
        try:
            fn()
            results.append((name, None))
        except Exception:
            results.append((name, traceback.format_exc().strip().splitlines()[-1]))
        return fn
    return wrap


def eq(got, want):
    if got != want:
        raise AssertionError("got %r, want %r" % (got, want))


@check("openpyxl")
def _():
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "data"
    ws.append(["name", "n"])
    ws.append(["a", 41])
    ws["B3"] = "=B2+1"
    wb.save("/app/t.xlsx")
    rb = openpyxl.load_workbook("/app/t.xlsx")
    eq([c.value for c in rb["data"]["A"]], ["name", "a", None])
    eq(rb["data"]["B2"].value, 41)
    eq(rb["data"]["B3"].value, "=B2+1")


@check("xlsxwriter")
def _():
    import xlsxwriter
    import openpyxl
    wb = xlsxwriter.Workbook("/app/w.xlsx")
    ws = wb.add_worksheet("s")
    ws.write_row(0, 0, ["x", 2.5])
    wb.close()
    eq([c.value for c in openpyxl.load_workbook("/app/w.xlsx")["s"][1]], ["x", 2.5])


@check("pypdf")
def _():
    import pypdf
    w = pypdf.PdfWriter()
    w.add_blank_page(width=200, height=100)
    w.add_blank_page(width=300, height=300)
    w.add_metadata({"/Title": "smoke"})
    with open("/app/t.pdf", "wb") as f:
        w.write(f)
    r = pypdf.PdfReader("/app/t.pdf")
    eq(len(r.pages), 2)
    eq(float(r.pages[0].mediabox.width), 200.0)
    eq(r.metadata.title, "smoke")


@check("odf")
def _():
    from odf.opendocument import OpenDocumentText, load
    from odf.text import P
    from odf import teletype
    doc = OpenDocumentText()
    doc.text.addElement(P(text="hello odf"))
    doc.save("/app/t.odt")
    back = load("/app/t.odt")
    eq([teletype.extractText(p) for p in back.getElementsByType(P)], ["hello odf"])


@check("tabulate")
def _():
    from tabulate import tabulate
    eq(tabulate([["a", 1], ["bb", 22]], headers=["k", "v"], tablefmt="github").splitlines()[2],
       "| a   |   1 |")


@check("jinja2")
def _():
    import jinja2
    env = jinja2.Environment(autoescape=True)
    t = env.from_string("{% for x in xs %}<{{ x }}>{% endfor %}{{ s }}")
    eq(t.render(xs=[1, 2], s="<b>"), "<1><2>&lt;b&gt;")


@check("markupsafe")
def _():
    import markupsafe
    eq(markupsafe.escape.__module__, "markupsafe._native")
    eq(str(markupsafe.Markup("<i>%s</i>") % "&"), "<i>&amp;</i>")


@check("markdown")
def _():
    import markdown
    eq(markdown.markdown("# T\n\n*x*"), "<h1>T</h1>\n<p><em>x</em></p>")


@check("dateutil")
def _():
    import datetime
    from dateutil import parser, relativedelta, tz
    d = parser.parse("2024-01-31T10:00:00")
    eq(d + relativedelta.relativedelta(months=1), datetime.datetime(2024, 2, 29, 10, 0))
    ny = tz.gettz("America/New_York")
    eq(datetime.datetime(2024, 7, 1, tzinfo=ny).utcoffset(), datetime.timedelta(hours=-4))


@check("six")
def _():
    import six
    eq(six.PY3, True)
    eq(six.ensure_str(b"x"), "x")


@check("attrs")
def _():
    import attr
    import attrs

    @attrs.define
    class P:
        x: int
        y: int = 0
    eq(attr.asdict(P(1)), {"x": 1, "y": 0})


@check("tomli")
def _():
    import tomli
    eq(tomli.loads('a = 1\n[b]\nc = "d"\n'), {"a": 1, "b": {"c": "d"}})


@check("defusedxml")
def _():
    import defusedxml.ElementTree as ET
    from defusedxml import EntitiesForbidden
    eq(ET.fromstring("<a><b>1</b></a>").find("b").text, "1")
    try:
        ET.fromstring('<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>')
    except EntitiesForbidden:
        pass
    else:
        raise AssertionError("an entity declaration was accepted")


@check("yaml")
def _():
    import yaml
    eq(yaml.__with_libyaml__, False)
    doc = {"a": [1, 2], "b": {"c": None, "d": "x: y"}}
    eq(yaml.safe_load(yaml.safe_dump(doc)), doc)


@check("bs4")
def _():
    from bs4 import BeautifulSoup
    s = BeautifulSoup("<ul><li class=x>a</li><li>b</li></ul>", "html.parser")
    eq([li.text for li in s.find_all("li")], ["a", "b"])
    eq(s.select_one("li.x").text, "a")  # soupsieve


@check("html5lib")
def _():
    from bs4 import BeautifulSoup
    s = BeautifulSoup("<p>unclosed<p>two", "html5lib")
    eq([p.text for p in s.find_all("p")], ["unclosed", "two"])


@check("networkx")
def _():
    import networkx as nx
    g = nx.Graph()
    g.add_weighted_edges_from([("a", "b", 1), ("b", "c", 1), ("a", "c", 5)])
    eq(nx.shortest_path(g, "a", "c", weight="weight"), ["a", "b", "c"])


@check("sympy")
def _():
    import sympy
    x = sympy.Symbol("x")
    eq(sympy.integrate(x**2), x**3 / 3)
    eq(str(sympy.integrate(x**2)), "x**3/3")


@check("mpmath")
def _():
    import mpmath
    mpmath.mp.dps = 30
    eq(str(mpmath.sqrt(2))[:20], "1.414213562373095048")


@check("pytz")
def _():
    import datetime
    import pytz
    tz = pytz.timezone("Europe/Paris")
    d = tz.localize(datetime.datetime(2024, 1, 15, 12))
    eq(d.utcoffset(), datetime.timedelta(hours=1))
    eq("Asia/Tokyo" in pytz.all_timezones_set, True)


@check("zoneinfo")
def _():
    import datetime
    import zoneinfo
    d = datetime.datetime(2024, 7, 1, tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    eq(d.utcoffset(), datetime.timedelta(hours=1))


@check("webencodings")
def _():
    import webencodings
    eq(webencodings.decode(b"\xef\xbb\xbfhi", "latin1")[0], "hi")


@check("et_xmlfile")
def _():
    from et_xmlfile import xmlfile
    buf = io.BytesIO()
    with xmlfile(buf) as xf:
        with xf.element("root"):
            xf.write("t")
    eq(buf.getvalue(), b"<root>t</root>")


@check("pyc")
def _():
    # Imports read the guest-compiled, unchecked-hash .pyc files.
    import importlib.util
    import jinja2
    spec = importlib.util.find_spec("jinja2.lexer")
    with open(spec.cached, "rb") as f:
        head = f.read(8)
    eq(head[:4], importlib.util.MAGIC_NUMBER)
    eq(int.from_bytes(head[4:8], "little"), 0b01)  # hash-based, source not checked
    import sysconfig
    eq(jinja2.__file__, sysconfig.get_paths()["purelib"] + "/jinja2/__init__.py")


failed = 0
for name, why in results:
    if why is None:
        print("ok", name)
    else:
        failed += 1
        print("FAIL %s: %s" % (name, why))
print("%d passed, %d failed" % (len(results) - failed, failed))
sys.exit(1 if failed else 0)
