"""What the HTML pages need besides the domain: paging, metrics, step text, charts, the one-time stash.
The templates reach all of it as `ui.<name>`."""

from ..crawl.reasons import sentence as skip_reason
from .charts import Chart, line_chart
from .figures import METRIC_LABELS, METRIC_UNITS, METRICS, format_metric, not_run, pass_rate, skip_words
from .pagination import PER_PAGE, Page, page_number, page_url
from .stash import STASH_SECONDS, stash_secret, take_secret
from .steps import describe_step, describe_target

__all__ = [
    "METRICS",
    "METRIC_LABELS",
    "METRIC_UNITS",
    "PER_PAGE",
    "STASH_SECONDS",
    "Chart",
    "Page",
    "describe_step",
    "describe_target",
    "format_metric",
    "line_chart",
    "not_run",
    "page_number",
    "page_url",
    "pass_rate",
    "skip_reason",
    "skip_words",
    "stash_secret",
    "take_secret",
]
