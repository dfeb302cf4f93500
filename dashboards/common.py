"""Pieces both dashboards share: the datasource reference through the ``datasource``
variable, the template variables, panel helpers and the JSON the builder writes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, Self, TypeVar

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prom_model

# Every panel, target, variable and annotation names its datasource through this
# variable: no uid of any one Grafana is written into the JSON.
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
# the selector every container panel filters on (instance keeps hosts apart)
CONTAINER = 'instance=~"$instance", name=~"$container"'
HOST = 'instance=~"$instance"'
# compose's project label, as --metric-labels puts it on watchdog_container_info
PROJECT_LABEL = "label_com_docker_compose_project"
INFO = "watchdog_container_info"
LEGEND = "{{instance}} {{name}}"


def datasource_variable() -> dash.DatasourceVariable:
    return dash.DatasourceVariable("datasource").label("Data source").type("prometheus")


def _query_variable(name: str, label: str, query: str) -> dash.QueryVariable:
    return (
        dash.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )


def instance_variable() -> dash.QueryVariable:
    """The hosts: every agent Prometheus scrapes answers with watchdog_build_info."""
    query = "label_values(watchdog_build_info, instance)"
    return _query_variable("instance", "Host", query).multi(True).include_all(True)


def project_variable() -> dash.QueryVariable:
    """Compose projects; All is ``.*`` so containers without the label still show."""
    query = f"label_values({INFO}{{{HOST}}}, {PROJECT_LABEL})"
    return (
        _query_variable("project", "Compose project", query)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def image_variable() -> dash.QueryVariable:
    query = f'label_values({INFO}{{{HOST}, {PROJECT_LABEL}=~"$project"}}, image)'
    return _query_variable("image", "Image", query).multi(True).include_all(True).all_value(".*")


def container_variable(*, multi: bool) -> dash.QueryVariable:
    """Container names, chained on host, project and image through the info series; All
    lists the names (no ``.*``), so a project or image choice narrows every panel."""
    selector = f'{HOST}, {PROJECT_LABEL}=~"$project", image=~"$image"'
    variable = _query_variable(
        "container", "Container", f"label_values({INFO}{{{selector}}}, name)"
    )
    return variable.multi(True).include_all(True) if multi else variable


def variables(*, multi_container: bool) -> list[cogbuilder.Builder[model.VariableModel]]:
    return [
        datasource_variable(),
        instance_variable(),
        project_variable(),
        image_variable(),
        container_variable(multi=multi_container),
    ]


def target(expr: str, legend: str = LEGEND, *, instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).legend_format(legend).datasource(DATASOURCE)
    return query.instant().format(prom_model.PromQueryFormat.TABLE) if instant else query


def lettered(targets: Sequence[prometheus.Dataquery]) -> list[cogbuilder.Builder[Dataquery]]:
    """The targets with Grafana's reference ids A, B, C, ... (an empty one confuses it)."""
    return [query.ref_id(chr(ord("A") + i)) for i, query in enumerate(targets)]


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


GREEN = thresholds((None, "green"))


class _PanelBuilder(Protocol):
    """The builder methods timeseries, stat and table panels share (each returns Self)."""

    def id(self, id_val: int) -> Self: ...
    def title(self, title: str) -> Self: ...
    def description(self, description: str) -> Self: ...
    def datasource(self, datasource: model.DataSourceRef) -> Self: ...
    def targets(self, targets: list[cogbuilder.Builder[Dataquery]]) -> Self: ...
    def unit(self, unit: str) -> Self: ...
    def span(self, w: int) -> Self: ...
    def height(self, h: int) -> Self: ...
    def thresholds(self, thresholds: cogbuilder.Builder[model.ThresholdsConfig]) -> Self: ...


_P = TypeVar("_P", bound=_PanelBuilder)


@dataclass
class Panels:
    """Hands out panel ids in order, one counter per dashboard."""

    next_id: int = 1
    ids: list[int] = field(default_factory=list)

    def take(self) -> int:
        self.ids.append(self.next_id)
        self.next_id += 1
        return self.ids[-1]

    def _framed(
        self,
        panel: _P,
        title: str,
        targets: Sequence[prometheus.Dataquery],
        unit: str,
        description: str,
        width: int,
        height: int,
        limits: dash.ThresholdsConfig,
    ) -> _P:
        """What every panel kind sets alike: the next id, title, datasource variable,
        lettered targets, unit, size and thresholds."""
        return (
            panel.id(self.take())
            .title(title)
            .description(description)
            .datasource(DATASOURCE)
            .targets(lettered(targets))
            .unit(unit)
            .span(width)
            .height(height)
            .thresholds(limits)
        )

    def series(
        self,
        title: str,
        targets: Sequence[prometheus.Dataquery],
        unit: str,
        *,
        description: str = "",
        width: int = 12,
        height: int = 8,
        limits: dash.ThresholdsConfig = GREEN,
        stack: bool = False,
    ) -> timeseries.Panel:
        panel = self._framed(
            timeseries.Panel(), title, targets, unit, description, width, height, limits
        ).fill_opacity(10)
        if stack:
            panel = panel.stacking(timeseries_stacking())
        return panel

    def stat(
        self,
        title: str,
        targets: Sequence[prometheus.Dataquery],
        unit: str,
        *,
        description: str = "",
        width: int = 4,
        height: int = 4,
        limits: dash.ThresholdsConfig = GREEN,
        mappings: Sequence[model.ValueMapping] = (),
    ) -> stat.Panel:
        panel = self._framed(stat.Panel(), title, targets, unit, description, width, height, limits)
        return panel.mappings(list(mappings)) if mappings else panel

    def table(
        self,
        title: str,
        targets: Sequence[prometheus.Dataquery],
        unit: str,
        *,
        description: str = "",
        width: int = 12,
        height: int = 8,
        limits: dash.ThresholdsConfig = GREEN,
    ) -> table.Panel:
        return self._framed(table.Panel(), title, targets, unit, description, width, height, limits)

    def row(self, title: str) -> dash.Row:
        return dash.Row(title).id(self.take())


def timeseries_stacking() -> common_builders.StackingConfig:
    return common_builders.StackingConfig().mode(common_models.StackingMode.NORMAL)


def state_mappings(texts: dict[str, tuple[str, str]]) -> list[model.ValueMapping]:
    """Value -> (text, color) for a stat panel (1 up, 0 down, ...)."""
    options = {
        value: model.ValueMappingResult(text=text, color=color, index=index)
        for index, (value, (text, color)) in enumerate(texts.items())
    }
    return [model.ValueMap(options=options)]


@dataclass(frozen=True)
class Annotation:
    """A Prometheus annotation: one marker per series and step where ``expr`` answers.
    The SDK's AnnotationQuery has no fields for Prometheus' title/text formats, so
    those are merged into its JSON (``extras``)."""

    name: str
    expr: str
    color: str
    title: str
    text: str = "{{instance}} {{name}}"

    def builder(self) -> dash.AnnotationQuery:
        return (
            dash.AnnotationQuery()
            .name(self.name)
            .datasource(DATASOURCE)
            .enable(True)
            .icon_color(self.color)
            .expr(self.expr)
        )

    def extras(self) -> dict[str, object]:
        return {
            "step": "$__interval",
            "titleFormat": self.title,
            "textFormat": self.text,
            "tagKeys": "instance,name",
            "useValueForTime": False,
        }


def to_json(board: dash.Dashboard, annotations: Sequence[Annotation] = ()) -> str:
    """The dashboard as the committed file holds it: 2-space JSON, one final newline."""
    data = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    extras = {a.name: a.extras() for a in annotations}
    for entry in data.get("annotations", {}).get("list", []):
        entry.update(extras.get(entry.get("name"), {}))
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
