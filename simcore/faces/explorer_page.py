"""The explorer's web page (``simcore explore``), in Panel: it lays out what an explorer
(simcore.app.explorer.Explorer, passed in: this layer does not import the app layer) computes
and sends each change of a control to it. Panel runs the same page in a notebook
(``explorer_page(explorer).servable()``) as on the local server.

Every text from a prior file or the user is escaped before it goes into HTML. A bad value gets
the CLI's one-line message in the page's message line; nothing a user types stops the server.
"""

from __future__ import annotations

import asyncio
import html
import io

from ..base.errors import SimcoreError
from ..model import PROFILES
from .formatting import PROFILE_HEADINGS


def _number_text(value: float) -> str:
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def _line(element_id: str, text: str, kind: str = "") -> str:
    style = {"error": "color:#b00020;font-weight:bold", "busy": "color:#555"}.get(kind, "")
    return f'<div id="{element_id}" style="{style}">{html.escape(text)}</div>'


def _rows_html(rows) -> str:
    cells = "".join(f"<tr><td>{html.escape(what)}</td><td class='num'>{html.escape(value)}</td>"
                    "</tr>" for what, value in rows)
    return f'<table id="headline">{cells}</table>'


def explorer_page(explorer):
    """A Panel layout bound to ``explorer`` (one per browser session; the explorer and its
    warm base are shared)."""
    import panel as pn

    state = {"generation": 0, "view": explorer.base_view, "change": explorer.change({})}
    label = pn.pane.HTML(_line("view-label", explorer.base_view.label))
    message = pn.pane.HTML(_line("message", ""))
    headline = pn.pane.HTML("")
    answer = pn.pane.HTML("")
    charts = {name: pn.pane.PNG(None, sizing_mode="stretch_width")
              for name in explorer.chart_names}
    profile = pn.widgets.Select(name="Profile", value=PROFILES[0],
                                options={PROFILE_HEADINGS[p]: p for p in PROFILES})
    tier = pn.widgets.RadioButtonGroup(name="Quality tier", options=list(explorer.tiers),
                                       value=explorer.tiers[0], css_classes=["tier"])
    files = {str(p.relative_to(explorer.root)): p for p in explorer.scenario_files()}
    base_choice = pn.widgets.Select(name="Prior file (scenario)", options=list(files),
                                    value=explorer.base_name)
    controls_box = pn.Column()
    inputs: dict[str, object] = {}
    scenario_name = pn.widgets.TextInput(name="Scenario file name", placeholder="my-what-if",
                                         css_classes=["scenario-name"])
    rationale = pn.widgets.TextAreaInput(name="Rationale (why, with a source)", height=70,
                                     css_classes=["scenario-rationale"])
    save = pn.widgets.Button(name="Save as scenario", button_type="primary",
                             css_classes=["save-scenario"])
    saved = pn.pane.HTML(_line("saved", ""))
    download = pn.widgets.FileDownload(label="Download report", filename="report.html",
                                       callback=lambda: _report(), button_type="success")

    def show(view, pngs) -> None:
        state["view"] = view
        label.object = _line("view-label", view.label)
        headline.object = _rows_html(explorer.headline_rows(view.result, profile.value,
                                                            tier.value))
        answer.object = f'<pre id="answer">{html.escape(view.answer)}</pre>'
        for name, png in pngs.items():
            charts[name].object = png

    def field_control(driver: str, name: str, value: float, scale):
        """A slider over the field's range (log-scaled for a positive driver) and a text box
        holding its value: the box is what a change reads, so a typed value, malformed or
        beyond the slider, gets the same check as one the slider set."""
        box = pn.widgets.TextInput(name=name, value=_number_text(value), width=90,
                                   css_classes=[f"control-{driver}-{name}"])
        low, high = scale.positions
        slider = pn.widgets.FloatSlider(start=low, end=high, step=scale.step,
                                        value=scale.position(value), show_value=False,
                                        tooltips=False,   # positions, not values, on log ones
                                        width=250, css_classes=[f"slider-{driver}-{name}"])
        syncing = []

        def on_slide(event) -> None:
            if not syncing:
                box.value = _number_text(scale.value_at(event.new))

        def on_type(event) -> None:
            try:
                typed = float(event.new)
            except ValueError:
                return
            syncing.append(True)
            try:
                slider.value = scale.position(typed)
            finally:
                syncing.clear()

        slider.param.watch(on_slide, "value_throttled")
        box.param.watch(on_type, "value")
        box.param.watch(on_change, "value")
        inputs[f"{driver}.{name}"] = box
        return pn.Row(slider, box)

    def build_controls() -> None:
        inputs.clear()
        cards = []
        for control in explorer.controls:
            fields = [field_control(control.driver, name, value, control.ranges[name])
                      for name, value in control.fields.items()]
            about = html.escape(f"{control.description} Prior: {control.spread_words}.")
            cards.append(pn.Card(pn.pane.HTML(f"<small>{about}</small>"), *fields,
                                 title=control.driver, collapsed=False))
        controls_box.objects = cards

    async def draw(view):
        return view, await asyncio.to_thread(explorer.chart_pngs, view.result, tier.value)

    async def on_change(*_events) -> None:
        state["generation"] += 1
        generation = state["generation"]
        change = explorer.change({key: box.value for key, box in inputs.items()})
        if change.error:
            message.object = _line("message", change.error, "error")
            return
        message.object = _line("message", "")
        state["change"] = change
        try:
            label.object = _line("view-label", "computing preview …", "busy")
            preview = await asyncio.to_thread(explorer.preview, change)
            if generation != state["generation"]:
                return
            if isinstance(preview, str):
                message.object = _line("message", f"no preview: {preview}")
            else:
                show(*await draw(preview))
            if generation != state["generation"] or change.target is None:
                return
            label.object = _line("view-label", f"{state['view'].label}; fresh run of "
                                 f"{explorer.draws:,} draws under way …", "busy")
            fresh = await asyncio.to_thread(explorer.fresh, change)
            if generation == state["generation"]:
                show(*await draw(fresh))
        except Exception as exc:      # the page stays up whatever one change does
            message.object = _line("message", _one_line(exc), "error")

    async def on_base(event) -> None:
        state["generation"] += 1
        label.object = _line("view-label", f"running {event.new} …", "busy")
        try:
            view = await asyncio.to_thread(explorer.select_base, files[event.new])
        except Exception as exc:
            message.object = _line("message", _one_line(exc), "error")
            return
        build_controls()
        state["change"] = explorer.change({})
        show(*await draw(view))

    def on_profile(_event) -> None:
        headline.object = _rows_html(explorer.headline_rows(state["view"].result,
                                                            profile.value, tier.value))

    async def on_tier(_event) -> None:
        view = state["view"]
        on_profile(None)
        png = await asyncio.to_thread(explorer.tier_chart_png, view.result, tier.value)
        if state["view"] is view:
            charts[explorer.tier_chart].object = png

    def on_save(_event) -> None:
        try:
            change = state["change"]
            if change.error:
                raise ValueError(change.error)
            path = explorer.save_scenario(change, scenario_name.value, rationale.value)
        except Exception as exc:
            saved.object = _line("saved", _one_line(exc), "error")
            return
        saved.object = _line("saved", f"scenario written to {path}")

    def _report():
        path = explorer.report(state["view"])
        return io.BytesIO(path.read_bytes())

    base_choice.param.watch(on_base, "value")
    profile.param.watch(on_profile, "value")
    tier.param.watch(on_tier, "value")
    save.on_click(on_save)
    build_controls()
    show(explorer.base_view, explorer.chart_pngs(explorer.base_view.result, tier.value))

    sidebar = pn.Column(
        pn.pane.HTML("<h2>simcore explorer</h2><p>Change a driver's prior: the page shows a "
                     "preview by reweighting the draws it has, then a fresh run.</p>"),
        base_choice, profile, pn.pane.HTML("<b>Quality tier</b> (cost per finished minute)"),
        tier, pn.pane.HTML("<h3>Drivers that matter most</h3>"),
        controls_box, pn.pane.HTML("<h3>Keep this what-if</h3>"), scenario_name, rationale,
        save, saved, download, width=420)
    main = pn.Column(label, message, headline, *charts.values(), answer,
                     sizing_mode="stretch_width")
    return pn.Row(sidebar, main, sizing_mode="stretch_width")


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def serve(explorer, host: str, port: int, show: bool) -> None:
    """Serve the page on ``host:port`` until interrupted; only pages from that address may
    open its websocket."""
    try:
        import panel as pn
    except ImportError:
        raise SimcoreError("simcore explore needs Panel: pip install 'simcore[explore]'") \
            from None

    origins = [f"{host}:{port}"] + ([f"localhost:{port}"] if host == "127.0.0.1" else [])
    print(f"simcore explorer: http://{host}:{port}/  (Ctrl-C stops it)", flush=True)
    pn.serve({"/": lambda: explorer_page(explorer)}, address=host, port=port, show=show,
             websocket_origin=origins, title="simcore explorer", print_url=False)
