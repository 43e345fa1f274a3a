"""Next-token distributions of a frozen reference LM for a batch of textgym observations."""

from __future__ import annotations

import numpy as np
import torch

from textgym.models.loader import load_frozen


class ReferenceLM:
    """Next-token logits of a frozen causal LM for right-padded ``input_ids``/``attention_mask`` batches.

    Used to restrict the action space to likely tokens (top-k actions, top-p masks as in
    NLPO). One forward pass over the batch per call.
    """

    def __init__(self, model_name: str, device: str | torch.device = "cpu") -> None:
        self.lm = load_frozen(model_name, device)
        self.device = self.lm.device
        self.vocab_size = self.lm.tokenizer.vocab_size

    @torch.no_grad()
    def logits(self, input_ids, attention_mask) -> torch.Tensor:
        """``[N, vocab_size]`` float32 logits of the token after each row's last real token."""
        ids = torch.as_tensor(
            np.asarray(input_ids) if not isinstance(input_ids, torch.Tensor) else input_ids, device=self.device
        )
        mask = torch.as_tensor(
            np.asarray(attention_mask) if not isinstance(attention_mask, torch.Tensor) else attention_mask,
            device=self.device,
        )
        ids, mask = ids.long().reshape(-1, ids.shape[-1]), mask.long().reshape(-1, mask.shape[-1])
        length = int(mask.sum(1).max())
        ids, mask = ids[:, :length], mask[:, :length]
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        logits = self.lm.model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
        last = (mask.sum(1) - 1).clamp(min=0)
        return logits[torch.arange(len(ids), device=self.device), last, : self.vocab_size].float()

    def top_k(self, input_ids, attention_mask, k: int) -> torch.Tensor:
        """``[N, k]`` token ids, most likely first."""
        return torch.topk(self.logits(input_ids, attention_mask), k, dim=-1).indices

    def top_p_mask(self, input_ids, attention_mask, p: float) -> torch.Tensor:
        """``[N, vocab_size]`` bool: the smallest set of most likely tokens whose probability reaches ``p``."""
        probs = torch.softmax(self.logits(input_ids, attention_mask), dim=-1)
        sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
        before = sorted_probs.cumsum(-1) - sorted_probs  # mass of the tokens ranked above
        keep_sorted = before < p
        keep_sorted[:, 0] = True
        mask = torch.zeros_like(keep_sorted)
        mask.scatter_(1, order, keep_sorted)
        return mask
