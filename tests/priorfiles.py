"""Build prior files for tests: every model driver, point-valued unless a test says otherwise."""

from __future__ import annotations

from pathlib import Path

from simcore.model import DRIVER_DEFAULTS, MODEL_DRIVERS

SOURCE = {"title": "test fixture", "url": "https://example.org/fixture", "date": "2026-11"}

# Point values near the baseline medians: a world in which everything is known (an optional
# driver may be left out: it then takes its default).
POINT_VALUES = {
    "film_length_seconds": 5400.0,
    "hw_doubling_years": 2.3, "hw_slowdown_start_years": 10.0, "hw_slowdown_factor": 1.5,
    "gpu_usd_per_hour": 2.4, "rental_premium": 1.2, "rental_premium_decay_years": 1.5,
    "gpu_energy_usd_per_hour": 0.1, "energy_efficiency_doubling_years": 2.6,
    "alg_halving_years": 0.8, "compute_per_video_second_floor": 0.04,
    "compute_per_video_second_today": 12.0, "price_markup": 5.0,
    "festival_price_multiplier": 6.0, "festival_overgeneration_today": 25.0,
    "festival_labour_usd_per_finished_minute": 30000.0,
    "free_allowance_today": 40.0, "free_passthrough_elasticity": 0.15,
    "free_withdrawal_hazard": 0.08, "free_relaunch_hazard": 0.5,
    "free_withdrawn_residual": 0.1, "free_user_value_usd_per_month": 5.0,
    "free_daily_use_cap_seconds": 1800.0, "open_compute_per_video_second_today": 3.5,
    "open_distillation_gain": 2.0, "open_distillation_years": 0.75,
    "gaming_pc_h100_equiv": 0.25, "consumer_hw_doubling_years": 2.5,
    "local_hours_per_day": 8.0, "npu_feasible_years": 6.0, "laptop_h100_equiv": 0.01,
    "overgeneration_today": 7.5, "overgeneration_halving_years": 2.5,
    "coherent_shot_seconds_today": 12.0, "coherent_shot_doubling_years": 1.6,
    "coherent_shot_saturation_seconds": 300.0, "required_long_take_seconds": 40.0,
    "cut_break_probability_today": 0.15, "cut_break_halving_years": 1.0,
    "cut_break_probability_floor": 1e-4,
    "cuts_per_feature": 1400.0, "tolerated_visible_breaks": 5.0,
    "dialogue_error_probability_today": 0.2, "dialogue_error_halving_years": 1.0,
    "dialogue_error_probability_floor": 1e-3,
    "dialogue_lines_per_feature": 900.0, "tolerated_dialogue_errors": 10.0,
    "judge_recall_today": 0.6, "judge_miss_halving_years": 1.5, "human_review_recall": 0.9,
    "max_takes_per_unit": 20.0,
    "agent_horizon_hours_today": 24.0, "agent_doubling_years": 0.45,
    "longest_unsplittable_subtask_hours": 60.0, "agent_reliability_factor": 5.5,
    "novel_adaptation_hours": 2000.0, "director_hours": 170.0, "director_hours_per_piece": 1.0,
    "individual_budget_usd": 10000.0, "team_budget_usd": 300000.0,
    "free_user_days_threshold": 30.0,
    "stall_occurs": 0.0, "stall_start_years": 5.0, "stall_slowdown_factor": 3.0,
}
assert MODEL_DRIVERS - set(DRIVER_DEFAULTS) <= set(POINT_VALUES) <= MODEL_DRIVERS


def toml_value(value) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def entry(family: str, **params) -> dict:
    return {"family": family, **params, "unit": "u", "description": "d", "rationale": "r",
            "sources": [SOURCE]}


def render(drivers: dict[str, dict], meta: dict | None = None,
           correlations: list | None = None) -> str:
    meta = {"title": "test", "as_of": "2026-11", "horizon_years": 20, "time_step_years": 0.25,
            **(meta or {})}
    lines = ["[meta]"] + [f"{k} = {toml_value(v)}" for k, v in meta.items()]
    for name, fields in drivers.items():
        lines.append(f"\n[drivers.{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in fields.items()]
    if correlations:
        lines.append("\n[correlations]")
        lines.append(f"pairs = {toml_value([list(p) for p in correlations])}")
    return "\n".join(lines) + "\n"


def point_drivers(**overrides) -> dict[str, dict]:
    """Every model driver as a fixed entry; keyword overrides give other entries."""
    drivers = {name: entry("fixed", value=value) for name, value in POINT_VALUES.items()}
    for name, spec in overrides.items():
        drivers[name] = spec if isinstance(spec, dict) else entry("fixed", value=spec)
    return drivers


def write(path: Path, drivers: dict[str, dict], meta: dict | None = None,
          correlations: list | None = None) -> Path:
    path.write_text(render(drivers, meta, correlations))
    return path


def write_point_prior(path: Path) -> Path:
    """Point values, but for one uncertain driver: the smallest prior whose runs have
    something to summarise (fast to run)."""
    return write(path, point_drivers(
        alg_halving_years=entry("lognormal", median=0.8, low=0.4, high=1.6)))
