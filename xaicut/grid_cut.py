"""The s-t minimum cut of the graph cut on the pixel grid (PyMaxflow; source = lesion)."""

from __future__ import annotations

import maxflow
import numpy as np


def _offset_structure(offset: tuple[int, int]) -> np.ndarray:
    """3x3 structure array selecting the single neighbour at ``offset`` (for ``add_grid_edges``)."""
    structure = np.zeros((3, 3))
    structure[1 + offset[0], 1 + offset[1]] = 1.0
    return structure


class GridCut:
    """s-t graph on the pixel grid with fixed pairwise edges and updatable terminal capacities.

    ``pairwise``: ``[(offset (dy, dx), weights float64 (H, W))]`` as
    ``xaicut.pairwise_terms.pairwise_weights`` returns them; ``shape``: (H, W). Successive
    :meth:`solve` calls re-use the previous flow and search trees (dynamic graph cuts, Kohli &
    Torr 2005), which is exact and much cheaper than rebuilding the graph.
    """

    def __init__(self, pairwise: list[tuple[tuple[int, int], np.ndarray]], shape: tuple[int, int]):
        n_nodes = shape[0] * shape[1]
        # Reserving room for every node and edge up front spares the graph its regrowth copies.
        self.graph = maxflow.Graph[float](n_nodes, n_nodes * len(pairwise))
        self.nodes = self.graph.add_grid_nodes(shape)
        for offset, weights in pairwise:
            self.graph.add_grid_edges(
                self.nodes, weights=weights, structure=_offset_structure(offset), symmetric=True
            )
        self.source_caps = np.zeros(shape)
        self.sink_caps = np.zeros(shape)
        self.solved = False

    def solve(self, source_caps: np.ndarray, sink_caps: np.ndarray) -> np.ndarray:
        """Minimum cut for these terminal capacities (float64 (H, W), nats); bool (H, W), True =
        source side (lesion)."""
        # Terminal capacities are stored as residuals, so adding the (possibly negative) change
        # turns the previous capacities into the new ones.
        self.graph.add_grid_tedges(
            self.nodes, source_caps - self.source_caps, sink_caps - self.sink_caps
        )
        self.source_caps, self.sink_caps = source_caps, sink_caps
        if self.solved:
            self.graph.mark_grid_nodes(self.nodes)
        self.graph.maxflow(reuse_trees=self.solved)
        self.solved = True
        return ~self.graph.get_grid_segments(self.nodes)
