"""Cluster graph metrics (Splink's ``compute_graph_metrics``) and the clusters they make doubtful.

Connected components chain: A-B and B-C above the threshold make A, B and C one customer even
when A and C share nothing. Two shapes give a chain away:

- a **bridge** between two groups: a link whose removal splits the cluster into two parts of
  at least two records each (both ends have another link), e.g. two relatives' record groups
  joined by one record that resembles both;
- a **sparse** cluster: at least ``SPARSE_MIN_RECORDS`` records whose links are fewer than
  ``SPARSE_DENSITY`` of all possible pairs; one person's records mostly resemble each other.

Such clusters are not split automatically (the model's recall is the weaker side, and a lone
bridge is also how a moved person's old and new records meet); their doubtful links go to the
review queue, where a steward's "different" becomes an override that cuts them.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd
from splink import DuckDBAPI, Linker

SPARSE_DENSITY = 0.5
SPARSE_MIN_RECORDS = 4

CLUSTER_METRIC_COLUMNS = ["cluster_id", "records", "links", "density", "bridges",
                          "review_reason"]
DOUBTFUL_LINK_COLUMNS = ["unique_id_l", "unique_id_r", "cluster_id", "reason"]


def cluster_graph_metrics(con: duckdb.DuckDBPyConnection, db_api: DuckDBAPI, linker: Linker,
                          clusters: pd.DataFrame, pairs_table: str, threshold: float
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(``CLUSTER_METRIC_COLUMNS`` per cluster of two or more records,
    ``DOUBTFUL_LINK_COLUMNS`` per link to review).

    ``clusters``: ``unique_id`` and ``cluster_id`` per record; ``pairs_table``: the scored
    pairs in ``con``. Only links inside the final clusters count (an override may have cut
    others), so the metrics describe the clusters as they are."""
    multi = clusters[clusters.duplicated("cluster_id", keep=False)]
    if multi.empty:
        return (pd.DataFrame(columns=CLUSTER_METRIC_COLUMNS),
                pd.DataFrame(columns=DOUBTFUL_LINK_COLUMNS))
    con.register("graph_clusters_input", multi[["unique_id", "cluster_id"]])
    con.execute("create or replace table graph_clusters as select * from graph_clusters_input")
    con.unregister("graph_clusters_input")
    con.execute(f"""
        create or replace table graph_links as
        select p.unique_id_l, p.unique_id_r, p.match_weight, p.match_probability
        from {pairs_table} as p
        inner join graph_clusters as l on p.unique_id_l = l.unique_id
        inner join graph_clusters as r on p.unique_id_r = r.unique_id
        where l.cluster_id = r.cluster_id and p.match_probability >= {float(threshold)!r}""")
    metrics = linker.clustering.compute_graph_metrics(
        db_api.register("graph_links"), db_api.register("graph_clusters"),
        threshold_match_probability=threshold)
    con.execute(f"""
        create or replace table graph_doubtful as
        select e.composite_unique_id_l as unique_id_l, e.composite_unique_id_r as unique_id_r,
               n.cluster_id, 'bridge' as reason
        from {metrics.edges.physical_name} as e
        inner join {metrics.nodes.physical_name} as n
          on e.composite_unique_id_l = n.composite_unique_id
        inner join {metrics.nodes.physical_name} as m
          on e.composite_unique_id_r = m.composite_unique_id
        where e.is_bridge and n.node_degree > 1 and m.node_degree > 1""")
    cluster_frame = _frame(con, f"""
        select c.cluster_id, c.n_nodes::bigint as records, c.n_edges::bigint as links,
               c.density, coalesce(b.bridges, 0)::bigint as bridges,
               case when d.cluster_id is not null then 'bridge'
                    when c.n_nodes >= {SPARSE_MIN_RECORDS} and c.density < {SPARSE_DENSITY}
                    then 'sparse' end as review_reason
        from {metrics.clusters.physical_name} as c
        left join (select cluster_id, count(*) as bridges
                   from {metrics.edges.physical_name} as e
                   inner join {metrics.nodes.physical_name} as n
                     on e.composite_unique_id_l = n.composite_unique_id
                   where e.is_bridge group by cluster_id) as b using (cluster_id)
        left join (select distinct cluster_id from graph_doubtful) as d using (cluster_id)
        order by c.cluster_id""")
    # a sparse cluster without such a bridge: its weakest link is the one to look at first
    sparse = cluster_frame.loc[cluster_frame["review_reason"] == "sparse", ["cluster_id"]]
    con.register("graph_sparse", sparse)
    weakest = _frame(con, """
        select unique_id_l, unique_id_r, cluster_id, 'sparse' as reason from (
            select g.*, c.cluster_id, row_number() over (
                partition by c.cluster_id order by g.match_weight, g.unique_id_l) as rank
            from graph_links as g
            inner join graph_clusters as c on g.unique_id_l = c.unique_id
            inner join graph_sparse using (cluster_id)) where rank = 1""")
    doubtful = pd.concat([_frame(con, "select * from graph_doubtful"), weakest],
                         ignore_index=True)
    return (cluster_frame[CLUSTER_METRIC_COLUMNS],
            doubtful[DOUBTFUL_LINK_COLUMNS].sort_values(
                ["cluster_id", "unique_id_l", "unique_id_r"], ignore_index=True))


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    frame: Any = con.sql(sql).df()
    return frame
