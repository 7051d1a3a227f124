"""Charts drawn from a stored run (an ``xarray.DataTree`` from ``stored.store.load_run``), never
from recomputation: what every chart shares (:mod:`.axes`), the charts of one run
(:mod:`.charts`), several runs together (:mod:`.scenarios`), and the registry that names them
and draws them to files (:mod:`.registry`)."""

from ...analysis.events import EventCurve, event_curve, event_curves
from ...stored.tree import (
                            as_of_year,
                            event_times,
                            grid_times,
                            horizon_words,
                            horizon_year,
                            open_run,
                            percentile_table,
                            run_binding_by_year,
                            run_event_curve,
                            run_event_curves,
)
from .axes import (
                            BAND_ALPHAS,
                            BANDS,
                            DPI,
                            FAN_SPECS,
                            PROFILE_COLOURS,
                            PROFILE_WORDS,
                            REQUIREMENT_COLOURS,
                            REQUIREMENT_WORDS,
                            SCENARIO_COLOURS,
                            THRESHOLD_WORDS,
                            FanSpec,
                            as_of_line,
                            human_log_axis,
                            prepare_drawing,
                            tick_formatter,
)
from .charts import (
                            binding_chart,
                            cost_per_minute_chart,
                            cut_break_chart,
                            fan_chart,
                            film_cost_chart,
                            film_days_chart,
                            film_events_chart,
                            free_video_chart,
                            novel_to_movie_chart,
                            price_compute_chart,
                            shot_length_chart,
)
from .registry import (
                            CHARTS,
                            DEFAULT_SEED,
                            FORMATS,
                            OPTIONAL_GROUPS,
                            STANDARD_SET,
                            STANDARD_SET_GROUPS,
                            Chart,
                            ChartError,
                            chart_names,
                            check_names,
                            draw,
                            draw_charts,
                            draw_standard_set,
                            plot_run,
                            render_charts,
                            write_png,
)
from .scenarios import scenario_chart, scenario_event_chart, scenario_headlines

__all__ = [
    "BAND_ALPHAS", "BANDS", "CHARTS", "DEFAULT_SEED", "DPI", "FAN_SPECS", "FORMATS",
    "PROFILE_COLOURS", "PROFILE_WORDS", "REQUIREMENT_COLOURS", "REQUIREMENT_WORDS",
    "SCENARIO_COLOURS", "STANDARD_SET", "STANDARD_SET_GROUPS", "OPTIONAL_GROUPS",
    "THRESHOLD_WORDS", "Chart",
    "ChartError", "EventCurve", "FanSpec", "as_of_line", "as_of_year", "binding_chart",
    "cost_per_minute_chart",
    "chart_names", "check_names", "cut_break_chart", "draw", "draw_charts", "draw_standard_set",
    "event_curve", "event_curves", "event_times", "fan_chart", "film_cost_chart",
    "film_days_chart", "film_events_chart", "free_video_chart", "grid_times", "horizon_words",
    "horizon_year", "human_log_axis", "novel_to_movie_chart", "open_run", "percentile_table",
    "plot_run", "price_compute_chart", "prepare_drawing", "render_charts", "run_binding_by_year",
    "run_event_curve", "run_event_curves", "scenario_chart", "scenario_event_chart",
    "scenario_headlines", "shot_length_chart", "tick_formatter", "write_png",
]
