"""A plain re-statement of the article's training loop, as the benchmark's baseline.

What it keeps from the article: a Dataset that applies ``ToTensor`` + ``Normalize``
to one image at a time, a DataLoader with batch 64, softmax output fed to
``CrossEntropyLoss``, recall/precision counted element by element in Python, and
the whole training set re-evaluated after every epoch.
"""

from __future__ import annotations

import torch
import torchvision.transforms as T
from torch import nn
from torch.utils.data import DataLoader, Dataset

from imbalance_lab.models.convnet import ArticleConvNet


class PerItemDataset(Dataset):
    def __init__(self, items):
        self.items = items  # list of (HxWxC uint8 numpy array, int label)
        self.transform = T.Compose([T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        image, label = self.items[idx]
        return self.transform(image), torch.tensor(label)


def _accuracy_recall_precision(network, loader):
    network.eval()
    predictions, labels = [], []
    correct = total = 0
    for images, y in loader:
        p = torch.argmax(network(images), dim=1)
        predictions.extend(p)
        labels.extend(y)
        correct += sum(p == y).item()
        total += len(images)
    tp = fn = fp = 0
    for i in range(len(predictions)):
        if predictions[i].item() == 1 and labels[i].item() == 1:
            tp += 1
        elif predictions[i].item() == 0 and labels[i].item() == 1:
            fn += 1
        elif predictions[i].item() == 1 and labels[i].item() == 0:
            fp += 1
    recall = tp / (tp + fn) if tp + fn else 0.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    return correct / total, recall, precision


def train_article_style(train_items, val_items, epochs: int, batch_size: int = 64) -> dict:
    network = ArticleConvNet(2, 3, faithful=True)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    loss_function = nn.CrossEntropyLoss()
    train_loader = DataLoader(PerItemDataset(train_items), batch_size)
    val_loader = DataLoader(PerItemDataset(val_items), batch_size)
    log = {"train": [], "val": []}
    network.train()
    for _ in range(epochs):
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss = loss_function(network(images), labels)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            log["train"].append(_accuracy_recall_precision(network, train_loader))
            network.eval()
            for images, labels in val_loader:
                loss_function(network(images), labels).item()
            log["val"].append(_accuracy_recall_precision(network, val_loader))
    return log
