"""The graph model: relation-aware message passing over customers, phones and devices.

Each relation type has its own message weights (relation-aware, as in R-GCN/GraphSAGE), edge
attributes enter the messages, each node keeps a separate self transform (which holds up under
heterophily: fraudsters' neighbours are mostly not fraudsters), and the count of neighbours per
relation is an input of its own. Weights never depend on the number of nodes, so the model is
inductive: a new customer is scored from its neighbourhood without retraining, and a customer
with no relations from its own features.

Inputs are a `HeteroData` built by `to_heterodata` from an export; PyTorch Geometric holds the
graph, the message passing is written here in plain torch (no pyg-lib or torch-sparse needed).

`GNNEstimator` trains the network behind the `RiskEstimator` interface. Labels as inputs: only
training labels are ever inputs, and it is trained with half of them hidden each epoch and the
loss on the hidden half, so a customer's own label never feeds its own prediction.
"""

from __future__ import annotations

import copy
import io
import time
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch_geometric.data import HeteroData

from graph.progress import Progress
from ml.calibration import choose_calibration
from ml.config import TrainConfig
from ml.export import RELATIONS, SYMMETRIC, GraphExport
from ml.features import LABEL_INPUTS, cap_fanout, label_inputs, mask_vouch_outcomes
from ml.metrics import evaluate
from ml.models.estimator import NotFitted, RiskEstimator
from ml.split import Split, class_weights, pair_split, vouch_pairs

EdgeType = tuple[str, str, str]


def edge_types(relations: dict[str, tuple[str, ...]] = RELATIONS) -> list[EdgeType]:
    """Every edge type the model passes messages along (a reverse for each direction)."""
    types: list[EdgeType] = []
    for name in relations:
        types.append(("customer", name, "customer"))
        if name not in SYMMETRIC:
            types.append(("customer", f"{name}_by", "customer"))
    types += [
        ("customer", "uses_phone", "phone"),
        ("phone", "phone_of", "customer"),
        ("customer", "uses_device", "device"),
        ("device", "device_of", "customer"),
    ]
    return types


def to_heterodata(
    export: GraphExport,
    known: np.ndarray,
    hide_vouch_outcomes: bool = False,
) -> HeteroData:
    """The export as PyG `HeteroData`: customer inputs are own features and the known-label
    one-hot (`known`: -1 unknown, 0 good, 1 fraud; a node's own label only). Counts are not
    inputs: the layers count neighbours themselves, so a capped online neighbourhood gives the
    scored customer the same inputs as training did."""
    data = HeteroData()
    data["customer"].x = torch.from_numpy(export.x)
    data["customer"].label_input = torch.from_numpy(label_inputs(known))
    data["phone"].x = torch.from_numpy(export.phone_x)
    data["device"].x = torch.from_numpy(export.device_x)
    for name in RELATIONS:
        e = export.edges[name]
        if name == "vouched" and hide_vouch_outcomes:
            e = mask_vouch_outcomes(e)
        src, dst = torch.from_numpy(e.src), torch.from_numpy(e.dst)
        attr = torch.from_numpy(e.attr)
        if name in SYMMETRIC:
            data["customer", name, "customer"].edge_index = torch.stack(
                [torch.cat([src, dst]), torch.cat([dst, src])]
            )
            data["customer", name, "customer"].edge_attr = torch.cat([attr, attr])
        else:
            data["customer", name, "customer"].edge_index = torch.stack([src, dst])
            data["customer", name, "customer"].edge_attr = attr
            data["customer", f"{name}_by", "customer"].edge_index = torch.stack([dst, src])
            data["customer", f"{name}_by", "customer"].edge_attr = attr
    for link, thing, back in (
        ("uses_phone", "phone", "phone_of"),
        ("uses_device", "device", "device_of"),
    ):
        e = export.edges[link]
        src, dst = torch.from_numpy(e.src), torch.from_numpy(e.dst)
        data["customer", link, thing].edge_index = torch.stack([src, dst])
        data[thing, back, "customer"].edge_index = torch.stack([dst, src])
        for et in (("customer", link, thing), (thing, back, "customer")):
            data[et].edge_attr = torch.zeros((len(src), 0))
    return data


def _key(et: EdgeType) -> str:
    return "__".join(et)


@dataclass(frozen=True)
class Relation:
    """One edge type made ready for message passing: the mean over each node's neighbours as a
    sparse matrix (destination x source), the neighbours' mean edge attributes, and log1p of
    the neighbour count. Built once per graph; a mean of linear messages is the linear map of
    the mean, so attributes need no per-edge work."""

    mean: torch.Tensor  # sparse COO (n_dst, n_src), rows sum to 1 (or 0 without neighbours)
    attr: torch.Tensor  # (n_dst, attributes)
    log_count: torch.Tensor  # (n_dst, 1)


def relations(data: HeteroData) -> dict[EdgeType, Relation]:
    """Every non-empty edge type of `data`, ready for `GraphRiskModel.encode`."""
    out = {}
    for et in data.edge_types:
        edge_index = data[et].edge_index
        if edge_index.shape[1] == 0:
            continue
        n_src, n_dst = data[et[0]].x.shape[0], data[et[2]].x.shape[0]
        src, dst = edge_index[0], edge_index[1]
        count = torch.bincount(dst, minlength=n_dst).to(torch.float32)
        weight = 1.0 / count.clamp(min=1)[dst]
        mean = torch.sparse_coo_tensor(
            torch.stack([dst, src]), weight, (n_dst, n_src), check_invariants=False
        )
        attr = data[et].edge_attr
        total = torch.zeros(n_dst, attr.shape[1]).index_add_(0, dst, attr)
        out[et] = Relation(
            mean.coalesce(), total / count.clamp(min=1)[:, None], torch.log1p(count)[:, None]
        )
    return out


class RelationLayer(nn.Module):
    """One round of messages: self transform + per relation the mean of messages (a linear map
    of the neighbours' states and of the edge attributes) + a learnt neighbour-count term."""

    def __init__(self, dim: int, attr_dims: dict[EdgeType, int], node_types: list[str]) -> None:
        super().__init__()
        self.own = nn.ModuleDict({t: nn.Linear(dim, dim) for t in node_types})
        self.message = nn.ModuleDict(
            {_key(et): nn.Linear(dim, dim, bias=False) for et in attr_dims}
        )
        self.attr = nn.ModuleDict(
            {_key(et): nn.Linear(a, dim, bias=False) for et, a in attr_dims.items() if a}
        )
        self.count = nn.ParameterDict(
            {_key(et): nn.Parameter(torch.zeros(dim)) for et in attr_dims}
        )
        self.norm = nn.ModuleDict({t: nn.LayerNorm(dim) for t in node_types})

    def forward(
        self, h: dict[str, torch.Tensor], graph: dict[EdgeType, Relation]
    ) -> dict[str, torch.Tensor]:
        out = {t: self.own[t](x) for t, x in h.items()}
        for et, rel in graph.items():
            s, _, d = et
            k = _key(et)
            update = torch.sparse.mm(rel.mean, self.message[k](h[s]))
            if k in self.attr:
                update = update + self.attr[k](rel.attr)
            out[d] = out[d] + update + rel.log_count * self.count[k]
        return {t: self.norm[t](x) for t, x in out.items()}


class GraphRiskModel(nn.Module):
    """Encoder plus two heads: a customer's fraud logit and a (customer, guarantor) pair logit."""

    def __init__(
        self,
        in_dims: dict[str, int],
        attr_dims: dict[EdgeType, int],
        hidden: int = 64,
        layers: int = 2,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.config: dict[str, Any] = {
            "in_dims": in_dims,
            "attr_dims": [[list(et), a] for et, a in attr_dims.items()],
            "hidden": hidden,
            "layers": layers,
            "dropout": dropout,
        }
        node_types = list(in_dims)
        extra = {"customer": len(LABEL_INPUTS)}
        self.inputs = nn.ModuleDict(
            {t: nn.Linear(d + extra.get(t, 0), hidden) for t, d in in_dims.items()}
        )
        self.layers = nn.ModuleList(
            [RelationLayer(hidden, attr_dims, node_types) for _ in range(layers)]
        )
        self.dropout = nn.Dropout(dropout)
        width = hidden * (layers + 1)  # every layer's output feeds the heads (jumping knowledge)
        self.customer_head = nn.Sequential(
            nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )
        self.pair_head = nn.Sequential(
            nn.Linear(4 * width, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GraphRiskModel:
        attr_dims = {tuple(et): a for et, a in config["attr_dims"]}
        return cls(
            config["in_dims"], attr_dims, config["hidden"], config["layers"], config["dropout"]
        )

    def encode(
        self, data: HeteroData, graph: dict[EdgeType, Relation] | None = None
    ) -> torch.Tensor:
        """Customer embeddings (every layer's output side by side). `graph` is
        `relations(data)`, passed in when the same graph is encoded many times."""
        graph = relations(data) if graph is None else graph
        h = {}
        for t in self.inputs:
            x = data[t].x
            if t == "customer":
                x = torch.cat([x, data[t].label_input], dim=1)
            h[t] = torch.relu(self.inputs[t](x))
        outputs = [h["customer"]]
        for layer in self.layers:
            h["customer"] = self.dropout(h["customer"])
            new = layer(h, graph)
            h = {t: torch.relu(new[t]) + h[t] for t in h}
            outputs.append(h["customer"])
        return torch.cat(outputs, dim=1)

    def customer_logits(self, z: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.customer_head(z)  # (nn.Module's __call__ returns Any)
        return logits.squeeze(-1)

    def pair_logits(
        self, z: torch.Tensor, customer: torch.Tensor, guarantor: torch.Tensor
    ) -> torch.Tensor:
        a, b = z[customer], z[guarantor]
        logits: torch.Tensor = self.pair_head(torch.cat([a, b, a * b, (a - b).abs()], dim=1))
        return logits.squeeze(-1)


def model_for(data: HeteroData, hidden: int, layers: int, dropout: float) -> GraphRiskModel:
    in_dims = {t: int(data[t].x.shape[1]) for t in data.node_types}
    attr_dims = {et: int(data[et].edge_attr.shape[1]) for et in edge_types()}
    return GraphRiskModel(in_dims, attr_dims, hidden, layers, dropout)


class GNNEstimator(RiskEstimator):
    """The relation-aware GNN (`GraphRiskModel`), trained full graph on the capped export and
    early-stopped on validation PR-AUC; then its pair head, on frozen embeddings of the graph
    with every vouch outcome hidden."""

    kind = "gnn"

    def __init__(self, config: TrainConfig | None = None) -> None:
        super().__init__(config)
        self.network: GraphRiskModel | None = None

    @property
    def hops(self) -> int:
        return self.config.layers

    def _network(self) -> GraphRiskModel:
        if self.network is None:
            raise NotFitted("this gnn model is not fitted")
        return self.network

    def fit(self, export: GraphExport, split: Split) -> Self:
        config = self.config
        started = time.monotonic()
        torch.manual_seed(config.seed)
        rng = np.random.default_rng(config.seed)
        capped = cap_fanout(export, config.fanout, config.seed)
        y = torch.from_numpy(capped.label.astype(np.float32))
        train_known = capped.known_labels(split.mask(capped.num_customers))
        data = to_heterodata(capped, train_known)
        graph = relations(data)
        model = model_for(data, config.hidden, config.layers, config.dropout)
        optimiser = torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        pos_weight = torch.tensor(float(class_weights(capped.label[split.train]).max()))
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        best = (-1.0, 0, copy.deepcopy(model.state_dict()))
        bar = Progress("train gnn", total=config.max_epochs, unit="epochs", enabled=config.progress)
        epoch = 0
        for epoch in range(1, config.max_epochs + 1):
            model.train()
            # the label trick: half the training labels are inputs, the other half are targets
            hide = rng.random(len(split.train)) < 0.5
            known = train_known.copy()
            known[split.train[hide]] = -1
            data["customer"].label_input = _label_input(known)
            targets = torch.from_numpy(split.train[hide])
            logits = model.customer_logits(model.encode(data, graph))
            loss = loss_fn(logits[targets], y[targets])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            bar.update(1)
            if epoch % config.eval_every == 0:
                val = _gnn_logits(model, data, graph, train_known)[split.val]
                score = evaluate(capped.label[split.val], _sigmoid(val))["pr_auc"] or 0.0
                if score > best[0]:
                    best = (score, epoch, copy.deepcopy(model.state_dict()))
                elif epoch - best[1] >= config.patience:
                    break
            if (
                config.time_budget_s is not None
                and time.monotonic() - started > config.time_budget_s
            ):
                break
        bar.close()
        model.load_state_dict(best[2])
        val = _gnn_logits(model, data, graph, train_known)[split.val]
        self.network = model
        self.feature_names, self.attribute_names = capped.feature_names, capped.attribute_names
        self.calibration = choose_calibration(val, capped.label[split.val])
        self.pair_calibration = None
        self.training = {
            "epochs": epoch,
            "best_epoch": best[1],
            "best_val_pr_auc": round(best[0], 4),
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        # The pairs come from the uncapped export, as in the baseline and in `evaluate_models`:
        # the fan-out cap drops some vouches at random, and a split of a different list of pairs
        # would put pairs the head trained on into the test set.
        customers, guarantors, bad = vouch_pairs(export)
        pairs_split = pair_split(bad, config)
        if pairs_split is not None:
            self._fit_pair_head(capped, train_known, (customers, guarantors, bad), pairs_split)
        self.training["seconds"] = round(time.monotonic() - started, 2)
        return self

    def _fit_pair_head(
        self,
        export: GraphExport,
        known: np.ndarray,
        pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
        split: Split,
        steps: int = 300,
    ) -> None:
        """Trains the pair head on frozen embeddings of the graph without vouch outcomes (the
        outcome being predicted is never an input), early-stopped on validation PR-AUC."""
        model, config = self._network(), self.config
        customers, guarantors, bad = pairs
        model.eval()
        with torch.no_grad():
            z = model.encode(to_heterodata(export, known, hide_vouch_outcomes=True))
        c, g = torch.from_numpy(customers), torch.from_numpy(guarantors)
        target = torch.from_numpy(bad.astype(np.float32))
        t, v = torch.from_numpy(split.train), split.val
        head = model.pair_head
        optimiser = torch.optim.AdamW(
            head.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        loss_fn = torch.nn.BCEWithLogitsLoss(
            pos_weight=torch.tensor(float(class_weights(bad[split.train]).max()))
        )
        best = (-1.0, 0, copy.deepcopy(head.state_dict()))
        for step in range(1, steps + 1):
            head.train()
            loss = loss_fn(model.pair_logits(z, c[t], g[t]), target[t])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if step % 10 == 0:
                head.eval()
                with torch.no_grad():
                    raw = model.pair_logits(z, c, g).numpy()[v]
                score = evaluate(bad[v], _sigmoid(raw))["pr_auc"] or 0.0
                if score > best[0]:
                    best = (score, step, copy.deepcopy(head.state_dict()))
                elif step - best[1] >= 100:
                    break
        head.load_state_dict(best[2])
        head.eval()
        with torch.no_grad():
            raw = model.pair_logits(z, c, g).numpy()[v]
        self.pair_calibration = choose_calibration(raw, bad[v])
        self.training["pair_best_val_pr_auc"] = round(best[0], 4)

    def decision_function(self, export: GraphExport, known: np.ndarray) -> np.ndarray:
        network = self._network()
        network.eval()
        with torch.no_grad():
            data = to_heterodata(export, known)
            return network.customer_logits(network.encode(data)).numpy()

    def pair_decision_function(
        self, export: GraphExport, known: np.ndarray, customers: np.ndarray, guarantors: np.ndarray
    ) -> np.ndarray:
        network = self._network()
        network.eval()
        with torch.no_grad():
            data = to_heterodata(export, known, hide_vouch_outcomes=True)
            z = network.encode(data)
            c, g = torch.from_numpy(customers), torch.from_numpy(guarantors)
            return network.pair_logits(z, c, g).numpy()

    def _spec(self) -> dict[str, Any]:
        return {"network": self._network().config}

    def _weights(self) -> bytes:
        buffer = io.BytesIO()
        torch.save(self._network().state_dict(), buffer)
        return buffer.getvalue()

    def _read_weights(self, raw: bytes, spec: dict[str, Any]) -> None:
        network = GraphRiskModel.from_config(spec["network"])
        network.load_state_dict(torch.load(io.BytesIO(raw), weights_only=True))
        network.eval()
        self.network = network


def _gnn_logits(
    model: GraphRiskModel, data: Any, graph: dict[Any, Any], known: np.ndarray
) -> np.ndarray:
    model.eval()
    data["customer"].label_input = _label_input(known)
    with torch.no_grad():
        return model.customer_logits(model.encode(data, graph)).numpy()


def _sigmoid(x: npt.NDArray[np.float32]) -> npt.NDArray[np.floating[Any]]:
    # float32 out at run time; NumPy's stubs widen `1.0 + array` to float64
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


def _label_input(known: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(label_inputs(known))
