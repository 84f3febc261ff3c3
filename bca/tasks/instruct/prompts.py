"""Prompt formatting and tokenisation with the loss on the response only.

The prompt is the tokenizer's chat template when it has one (SmolLM2-Instruct: ``<|im_start|>user ...``), else
the Alpaca template that MetaMath and the LLaMA2 PEFT papers train base models with. Prompt and response are
tokenised separately and concatenated, so the label mask is exact (no guessing where the prompt ends inside a
merged token) and evaluation feeds the model exactly the prompt ids it was trained to continue.
"""

from __future__ import annotations

from dataclasses import dataclass

IGNORE_INDEX = -100
"""Label of tokens that take no loss (prompt and padding): the ignore_index of torch's cross-entropy."""

ALPACA = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    "\n\n### Instruction:\n{instruction}\n\n### Response:\n"
)
ALPACA_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request."
    "\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)


def end_token_id(tokenizer) -> int:
    """The token that ends a response: EOS (``<|im_end|>`` for SmolLM2), else SEP for BERT-style tokenizers."""
    for tid in (tokenizer.eos_token_id, tokenizer.sep_token_id):
        if tid is not None:
            return tid
    raise ValueError(f"{type(tokenizer).__name__} has neither an EOS nor a SEP token to end responses with")


@dataclass(frozen=True)
class PromptFormat:
    """How one tokenizer turns an (instruction, input) pair into prompt token ids."""

    tokenizer: object
    chat: bool  # use the tokenizer's chat template

    @classmethod
    def for_tokenizer(cls, tokenizer) -> PromptFormat:
        return cls(tokenizer, chat=bool(getattr(tokenizer, "chat_template", None)))

    def prompt_text(self, instruction: str, input: str = "") -> str:
        if self.chat:
            content = f"{instruction}\n\n{input}" if input else instruction
            messages = [{"role": "user", "content": content}]
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        template = ALPACA_WITH_INPUT if input else ALPACA
        return template.format(instruction=instruction, input=input)

    def prompt_ids(self, instruction: str, input: str = "") -> list[int]:
        """Token ids of the prompt; BOS first when the tokenizer has one and the template does not add it."""
        ids = self.tokenizer(self.prompt_text(instruction, input), add_special_tokens=False)["input_ids"]
        bos = self.tokenizer.bos_token_id
        return ids if self.chat or bos is None else [bos, *ids]

    def response_ids(self, response: str) -> list[int]:
        """Token ids of the target: the response and the end token, so the model learns to stop."""
        ids = self.tokenizer(response, add_special_tokens=False)["input_ids"]
        return [*ids, end_token_id(self.tokenizer)]

    def encode(self, instruction: str, input: str, response: str, max_length: int) -> dict:
        """``input_ids`` and ``labels`` (IGNORE_INDEX on the prompt), truncated on the right to ``max_length``.

        An over-long example keeps its prompt and loses the end of its response; a prompt that alone reaches
        ``max_length`` has no response token left and is marked ``trainable=False`` for the caller to drop.
        """
        prompt, target = self.prompt_ids(instruction, input), self.response_ids(response)
        input_ids = (prompt + target)[:max_length]
        labels = ([IGNORE_INDEX] * len(prompt) + target)[:max_length]
        return {"input_ids": input_ids, "labels": labels, "trainable": len(prompt) < max_length}
