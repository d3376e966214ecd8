"""The extract period: day calendar, seasonality and timestamp formatting.

Times inside the generator are int64 seconds since the first day 00:00 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onetoone.generate import vocab
from onetoone.generate.text import Strings, cat, numbers

DAY = 86_400


@cache
def _time_of_day() -> pa.Array:
    """'HH:MM:SS' for every second of a day."""
    second = np.arange(DAY)
    return cat(numbers(second // 3600, 2), ":", numbers(second // 60 % 60, 2), ":",
               numbers(second % 60, 2))


@dataclass(frozen=True)
class Period:
    start: date
    days: int

    @classmethod
    def ending(cls, end: date, days: int) -> Period:
        return cls(end - timedelta(days=days - 1), days)

    @property
    def seconds(self) -> int:
        return self.days * DAY

    def day_name(self, day: int) -> str:
        return (self.start + timedelta(days=day)).isoformat()

    def _dates(self, lo: int, hi: int) -> np.ndarray:
        return np.datetime64(self.start, "D") + np.arange(lo, hi)

    def format(self, seconds: np.ndarray, sep: str = " ", offset_hours: np.ndarray | None = None
               ) -> Strings:
        """'YYYY-MM-DD HH:MM:SS' of the given times, shifted to a UTC offset when given."""
        seconds = np.asarray(seconds, dtype=np.int64)
        if offset_hours is not None:
            seconds = seconds + np.asarray(offset_hours, dtype=np.int64) * 3600
        if seconds.size == 0:
            return pa.array([], pa.string())
        day = seconds // DAY
        lo, hi = int(day.min()), int(day.max()) + 1
        days = pa.array(self._dates(lo, hi).astype(str), pa.string())
        return pc.binary_join_element_wise(pc.take(days, pa.array(day - lo)),
                                           pc.take(_time_of_day(), pa.array(seconds % DAY)), sep)

    def format_dates(self, days_since_start: np.ndarray) -> Strings:
        days_since_start = np.asarray(days_since_start, dtype=np.int64)
        if days_since_start.size == 0:
            return pa.array([], pa.string())
        lo, hi = int(days_since_start.min()), int(days_since_start.max()) + 1
        table = pa.array(self._dates(lo, hi).astype(str), pa.string())
        return pc.take(table, pa.array(days_since_start - lo))

    def weekday(self) -> np.ndarray:
        """Monday=0 for every day of the period."""
        return (self.start.weekday() + np.arange(self.days)) % 7

    def month_day(self) -> tuple[np.ndarray, np.ndarray]:
        dates = self._dates(0, self.days)
        months = dates.astype("datetime64[M]")
        return (months.astype(int) % 12 + 1,
                (dates - months.astype("datetime64[D]")).astype(int) + 1)

    def shopping_demand(self) -> np.ndarray:
        """Relative order intake per day: weekly rhythm, January lull, Mother's Day, Black
        Friday week, Christmas run-up and slow business growth."""
        month, mday = self.month_day()
        weekday = self.weekday()
        demand = np.array([0.95, 0.95, 0.95, 1.0, 1.05, 1.15, 1.0])[weekday]
        demand = demand * np.where(month == 1, 0.8, 1.0) * np.where(month == 2, 0.9, 1.0)
        demand *= np.where((month == 5) & (mday <= 12), 1.3, 1.0)
        # Black Friday is the fourth Friday of November; the week to Cyber Monday peaks.
        black_friday_week = (month == 11) & (mday >= 22) & (mday <= 30)
        demand *= np.where(black_friday_week, 2.2, 1.0)
        demand *= np.where((month == 12) & (mday <= 24), 1.2 + 0.6 * mday / 24, 1.0)
        return demand * (1.0 + 0.15 * np.arange(self.days) / max(self.days, 1))

    def call_center_load(self) -> np.ndarray:
        """Relative call volume per day; closed on 1 January and 25 December."""
        month, mday = self.month_day()
        load = np.array([1.25, 1.1, 1.05, 1.0, 0.95, 0.55, 0.2])[self.weekday()]
        load *= 0.5 + 0.5 * self.shopping_demand()
        closed = ((month == 1) & (mday == 1)) | ((month == 12) & (mday == 25))
        return np.where(closed, 0.0, load)

    def pick_days(self, rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
        return rng.choice(self.days, size=n, p=weights / weights.sum())

    def utc_offset_hours(self, country: np.ndarray, at: np.ndarray) -> np.ndarray:
        """UTC offset of each country (index into vocab.COUNTRIES) at each time: standard
        offsets, with southern-summer time in Chile and daylight saving time in the US."""
        month, _ = self.month_day()
        m = month[np.clip(at // DAY, 0, self.days - 1)]
        offset = np.array([c.utc_offset_hours for c in vocab.COUNTRIES])[country]
        codes = [c.code for c in vocab.COUNTRIES]
        offset = np.where((country == codes.index("CL")) & ((m >= 9) | (m <= 3)), offset + 1,
                          offset)
        return np.where((country == codes.index("US")) & (m >= 3) & (m <= 10), offset + 1,
                        offset)

    def local_times(self, rng: np.random.Generator, days: np.ndarray, country: np.ndarray,
                    hours: np.ndarray) -> np.ndarray:
        """UTC times of activity on the given local days, at local hours drawn from an hour
        profile in each person's own time zone."""
        local = times_in_days(rng, days, hours)
        return local - self.utc_offset_hours(country, local) * 3600


def hour_profile(peaks: list[tuple[float, float, float]], lo: int = 0, hi: int = 24) -> np.ndarray:
    """Probability of each hour from a few Gaussian bumps (centre, width, weight), zero outside
    [lo, hi)."""
    hours = np.arange(24) + 0.5
    density = sum(w * np.exp(-0.5 * ((hours - c) / s) ** 2) for c, s, w in peaks)
    density = np.where((hours >= lo) & (hours < hi), density + 1e-3, 0.0)
    return density / density.sum()


def times_in_days(rng: np.random.Generator, days: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """A time in each given day, with the hour drawn from an hour profile."""
    hour = rng.choice(24, size=days.size, p=hours)
    return days.astype(np.int64) * DAY + hour * 3600 + rng.integers(0, 3600, days.size)
