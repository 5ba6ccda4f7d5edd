"""A small byte-level BPE tokenizer shaped like GLM-4.7-Flash's, trained here in under a second.

The real tokenizer (``zai-org/GLM-4.7-Flash``, ``tokenizer.json``) is a byte-level
BPE of 154,820 merged tokens followed by 36 added tokens at ids 154820-154855;
the first 18 (``<|endoftext|>`` ... ``<|end_of_transcription|>``) are special,
the rest (``<think>``, ``<tool_call>``, ``<arg_key>`` ...) are added but *not*
special, so they survive ``skip_special_tokens`` and the tool-call and reasoning
parsers can see them in the text. This copy keeps the same pre-tokenizer, the
same added tokens in the same order and with the same flags, on a vocabulary of
a few thousand learnt from a built-in English, code and JSON corpus. The corpus
and its random draws are fixed, so every build gives the same token ids.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

__all__ = [
    "ADDED_TOKENS",
    "EOS_TOKENS",
    "PAD_TOKEN",
    "SPECIAL_COUNT",
    "builtin_corpus",
    "save_tiny_tokenizer",
    "train_tiny_tokenizer",
]

# The real tokenizer's added tokens, in id order; the first SPECIAL_COUNT are special.
ADDED_TOKENS: tuple[str, ...] = (
    "<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>",
    "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>",
    "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>", "<|end_of_video|>",
    "<|begin_of_audio|>", "<|end_of_audio|>", "<|begin_of_transcription|>", "<|end_of_transcription|>",
    "<|code_prefix|>", "<|code_middle|>", "<|code_suffix|>",
    "<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>",
    "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>", "/nothink",
    "<|begin_of_box|>", "<|end_of_box|>", "<|image|>", "<|video|>",
)
SPECIAL_COUNT = 18
# generation_config.json of the real model stops on these three (ids 154820, 154827, 154829 there).
EOS_TOKENS: tuple[str, ...] = ("<|endoftext|>", "<|user|>", "<|observation|>")
PAD_TOKEN = "<|endoftext|>"

# The real pre-tokenizer: a GPT-4-like split, then byte-level mapping without its own regex.
_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
    r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_CORPUS_SEED = 47  # fixed on purpose: the tokenizer must not change with the model's --seed
_MODEL_MAX_LENGTH = 128000  # as the real tokenizer_config.json

_WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which but have an "
    "they you were her she there been one all we their has would when if more will so no out up into them "
    "can said what its about time other only new some could these two may first then do any like my now over "
    "such our man me even most made after also did many before must through back years where much your way "
    "well down should because each just those people how too little state good very make world still own see "
    "men work long get here between both life being under never day same another know while last might us "
    "great old year off come since against go came right used take three model server token request latency "
    "benchmark throughput prompt answer question weather city temperature function argument value result "
    "search file path number string list object error message user assistant system tool call response "
    "reasoning think step first second finally because therefore example python json data name type "
    "description required properties parameters location unit celsius fahrenheit date price order item "
    "stream chunk batch queue schedule rate second millisecond memory cache layer expert attention "
    "ability able accept access account across action active actually add address admit adult affect after "
    "again age agency agent ago agree ahead air allow almost alone along already although always among amount "
    "analysis animal another answer anyone anything appear apply approach area argue arm around arrive art "
    "article artist ask assume attack attempt attend audience author authority available avoid away baby bad "
    "bag ball bank bar base beat beautiful become bed begin behavior behind believe benefit best better beyond "
    "big bill billion bit black blood blue board body book born box boy break bring brother budget build "
    "building business buy camera campaign cancer candidate capital car card care career carry case catch "
    "cause cell center central century certain chair challenge chance change character charge check child "
    "choice choose church citizen civil claim class clear clearly close coach cold collection college color "
    "commercial common community company compare computer concern condition conference congress consider "
    "consumer contain continue control cost country couple course court cover create crime cultural culture "
    "cup current customer cut dark daughter dead deal death debate decade decide decision deep defense degree "
    "democrat describe design despite detail determine develop development difference different difficult "
    "dinner direction director discover discuss discussion disease doctor dog door dream drive drop drug "
    "during early east easy eat economic economy edge education effect effort eight either election else "
    "employee end energy enjoy enough enter entire environment especially establish evening event ever "
    "everybody everyone everything evidence exactly executive exist expect experience explain eye face fact "
    "factor fail fall family far fast father fear federal feel feeling few field fight figure fill film final "
    "financial find fine finger finish fire firm fish five floor fly focus follow food foot force foreign "
    "forget form former forward four free friend front full fund future game garden gas general generation "
    "girl give glass goal government green ground group grow growth guess gun guy hair half hand hang happen "
    "happy hard head health hear heart heat heavy help herself high himself history hit hold home hope "
    "hospital hot hotel hour house however huge human hundred husband idea identify image imagine impact "
    "important improve include including increase indeed indicate individual industry information inside "
    "instead institution interest interesting international interview investment involve issue job join "
    "keep key kid kill kind kitchen knowledge land language large late later laugh law lawyer lay lead leader "
    "learn least leave left leg legal less let letter level lie light likely line listen live local look "
    "lose loss lot love low machine magazine main maintain major majority manage management manager market "
    "marriage material matter maybe mean measure media medical meet meeting member mention method middle "
    "military million mind minute miss mission modern moment money month morning mother mouth move movement "
    "movie music myself nation national natural nature near nearly necessary need network news newspaper "
    "next nice night none nor north note nothing notice occur offer office officer official often oil ok "
    "once open operation opportunity option others outside owner page pain painting paper parent part "
    "participant particular particularly partner party pass past patient pattern pay peace per perform "
    "performance perhaps period person personal phone physical pick picture piece place plan plant play "
    "player point police policy political politics poor popular population position positive possible power "
    "practice prepare present president pressure pretty prevent private probably problem process produce "
    "product production professional professor program project property protect prove provide public pull "
    "purpose push put quality quickly quite race radio raise range rather reach read ready real reality "
    "realize really reason receive recent recently recognize record red reduce reflect region relate "
    "relationship religious remain remember remove report represent republican require research resource "
    "respond rest return reveal rich rise risk road rock role room rule run safe save scene school science "
    "scientist score sea season seat section security seek seem sell send senior sense series serious serve "
    "service set seven several shake share shoot short shot shoulder show side sign significant similar "
    "simple simply sing single sister sit site situation six size skill skin small smile social society "
    "soldier somebody someone something sometimes son song soon sort sound source south southern space speak "
    "special specific speech spend sport spring staff stage stand standard star start statement station stay "
    "step stock stop store story strategy street strong structure student study stuff style subject success "
    "successful suddenly suffer suggest summer support sure surface table talk task tax teach teacher team "
    "technology television tell ten tend term test thank theory thing third thought thousand threat throw "
    "thus today together tonight total tough toward town trade traditional training travel treat treatment "
    "tree trial trip trouble true truth try turn tv under understand until upon usually various victim view "
    "violence visit voice vote wait walk wall want war watch water weapon wear week weight west western "
    "whatever whether white whole whom whose why wide wife win wind window wish within without woman wonder "
    "word worker write writer wrong yard yeah yes yet young yourself"
).split()
_NAMES = ("get_weather", "search_web", "read_file", "send_email", "book_flight", "calculate",
          "get_stock_price", "translate_text", "list_files", "create_event")
_KEYS = ("city", "unit", "query", "path", "to", "subject", "origin", "destination", "date",
         "expression", "symbol", "text", "target_language", "limit", "title", "start")
_CITIES = ("Paris", "London", "Tokyo", "Beijing", "New York", "Berlin", "Madrid", "Seoul", "Sydney", "Toronto")
_CODE = '''
import json
from pathlib import Path


def load_records(path: Path) -> list[dict]:
    """Read one JSON object per line."""
    records = []
    with path.open() as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            records.append(json.loads(line))
    return records


class Counter:
    def __init__(self, start: int = 0) -> None:
        self.value = start

    def add(self, n: int = 1) -> int:
        self.value += n
        return self.value


async def fetch(session, url, timeout=30):
    async with session.get(url, timeout=timeout) as resp:
        resp.raise_for_status()
        return await resp.json()


for i in range(10):
    if i % 2 == 0:
        print(f"even {i}")
    else:
        print("odd", i)

function add(a, b) {
  return a + b;
}

const items = [1, 2, 3].map((x) => x * 2);
if (items.length > 0) { console.log(items); }

SELECT name, price FROM products WHERE price > 10 ORDER BY price DESC LIMIT 5;
'''


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(5, 16))]
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice((".", ".", ".", "?", "!"))


def _identifier(rng: random.Random) -> str:
    parts = [rng.choice(_WORDS) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.3:
        return "".join(p.capitalize() for p in parts)
    return "_".join(parts)


def _code(rng: random.Random) -> str:
    fn, arg, var, cls = (_identifier(rng) for _ in range(4))
    return (f"def {fn}({arg}, limit={rng.randint(1, 100)}):\n"
            f"    \"\"\"{_sentence(rng)}\"\"\"\n"
            f"    {var} = [{arg}.get(\"{rng.choice(_KEYS)}\") for _ in range(limit)]\n"
            f"    if not {var}:\n        raise ValueError(\"{_sentence(rng)}\")\n"
            f"    return {cls}({var})\n")


def _tool_json(rng: random.Random) -> str:
    name = rng.choice(_NAMES)
    args: dict[str, Any] = {}
    for key in rng.sample(_KEYS, rng.randint(1, 3)):
        args[key] = rng.choice((rng.choice(_CITIES), rng.randint(0, 2024), rng.random() < 0.5,
                                " ".join(rng.choice(_WORDS) for _ in range(3))))
    return json.dumps({"name": name, "arguments": args}, indent=rng.choice((None, 2)))


def _schema_json(rng: random.Random) -> str:
    name = rng.choice(_NAMES)
    props = {k: {"type": rng.choice(("string", "integer", "number", "boolean")),
                 "description": _sentence(rng)} for k in rng.sample(_KEYS, rng.randint(1, 3))}
    return json.dumps({"type": "function", "function": {
        "name": name, "description": _sentence(rng),
        "parameters": {"type": "object", "properties": props, "required": sorted(props)[:1]}}})


def builtin_corpus() -> list[str]:
    """The training texts: generated English prose, a code sample and tool-call JSON, always the same."""
    rng = random.Random(_CORPUS_SEED)
    texts = []
    for _ in range(600):
        texts.append(" ".join(_sentence(rng) for _ in range(rng.randint(2, 6))))
    for _ in range(30):
        texts.append(_CODE)
    for _ in range(800):
        texts.append(_code(rng))
    for _ in range(300):
        texts.append(_tool_json(rng))
        texts.append(_schema_json(rng))
    for _ in range(200):
        texts.append(f"The temperature in {rng.choice(_CITIES)} is {rng.randint(-20, 45)} degrees "
                     f"on {rng.randint(2020, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}.")
    return texts


def train_tiny_tokenizer(vocab_size: int = 4000) -> Any:
    """A ``tokenizers.Tokenizer``: byte-level BPE of up to ``vocab_size`` tokens, then GLM's added tokens.

    The added tokens take the ids right after the learnt vocabulary, in the real
    tokenizer's order, so ``<|endoftext|>`` is the first id past the BPE tokens.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
        trainers,
    )

    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False, ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_SPLIT_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.post_processor = processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True)
    # The decoder takes these keywords at run time (GLM's tokenizer.json spells them out); tokenizers' stub lists none.
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)  # type: ignore[call-arg]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tok.train_from_iterator(builtin_corpus(), trainer=trainer)
    for i, content in enumerate(ADDED_TOKENS):
        special = i < SPECIAL_COUNT
        added = AddedToken(content, single_word=False, lstrip=False, rstrip=False, normalized=False, special=special)
        if special:
            tok.add_special_tokens([added])
        else:
            tok.add_tokens([added])
    return tok


# How ``transformers serve`` (and ``tokenizer.parse_response``) splits a GLM-4.7 reply into
# reasoning, answer and tool calls: transformers ships such templates only for a few model
# families, so without this key GLM output would stream through unparsed.
RESPONSE_TEMPLATE: dict[str, Any] = {
    "start_anchor": "<|assistant|>",
    "defaults": {"role": "assistant"},
    "fields": {
        "thinking": {"open": "<think>", "close": "</think>", "content": "text"},
        "tool_calls": {
            "open_pattern": r"\s*<tool_call>(?P<name>[^<\n]+)",
            "close": "</tool_call>",
            "repeats": True,
            "content": "xml-inline",
            "content_args": {"tag_pattern": r"<arg_key>(?P<key>.*?)</arg_key>\s*<arg_value>(?P<value>.*?)</arg_value>"},
            "transform": {"type": "function", "function": {"name": "{name}", "arguments": "{content}"}},
        },
        "content": {"close_pattern": r"\s*(?:<\|user\|>|<\|observation\|>|<\|endoftext\|>)", "content": "text"},
    },
}


def save_tiny_tokenizer(tok: Any, out_dir: Path, chat_template: str) -> Any:
    """Write ``tokenizer.json``, ``tokenizer_config.json`` and ``chat_template.jinja``; returns the HF tokenizer.

    ``tokenizer_class`` is ``PreTrainedTokenizerFast``: transformers 5 maps it to
    its tokenizers backend and 4.x still knows it, so older readers load it too.
    """
    from transformers import PreTrainedTokenizerFast

    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS_TOKENS[0],
        pad_token=PAD_TOKEN,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=_MODEL_MAX_LENGTH,
    )
    hf.chat_template = chat_template
    hf.save_pretrained(str(out_dir))
    config_path = Path(out_dir) / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.update({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "do_lower_case": False,
        "remove_space": False,
        "additional_special_tokens": list(ADDED_TOKENS[:SPECIAL_COUNT]),
        "response_template": RESPONSE_TEMPLATE,
    })
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    template_path = Path(out_dir) / "chat_template.jinja"
    if not template_path.exists():  # transformers 4.x folds it into tokenizer_config.json instead
        template_path.write_text(chat_template)
    return hf
