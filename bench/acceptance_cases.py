"""Architectures for the acceptance run (``bench/acceptance.py``): real model
layouts from configs, random weights, nothing downloaded.

Hand-written (torch only): MobileNetV2/V3-like (depthwise conv, hardswish, SE),
LSTM/GRU, UNet-ish ops, and small programs probing I/O and graph shapes
(dict/tuple/None outputs, in-place ops, input and buffer mutation, bool and
integer I/O, fp16/bf16, dynamic dims, torch.cond, complex tensors).
From ``transformers`` configs (``pip install ".[bench]"``): DistilBERT,
RoBERTa, ALBERT, BERT, Llama, Mistral, Qwen2, GPT-2, T5, ConvNeXt, Swin,
EfficientNet, MobileNetV2, ViT, Whisper encoder, wav2vec2, CLIP, DETR.
Each entry builds ``(model, example_inputs, save options)``.
"""
from __future__ import annotations
import math
from typing import Any, Callable, Dict, Tuple
import torch
from torch import nn
import torch.nn.functional as F

Dim = torch.export.Dim
CASES: Dict[str, Callable[[], Tuple[nn.Module, tuple, dict]]] = {}

def case(name):
    def deco(fn):
        CASES[name] = fn
        return fn
    return deco

# ---------------- hand-written vision ----------------
class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand, act=nn.ReLU6, se=False):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), act()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden), act()]
        if se:
            layers += [SE(hidden)]
        layers += [nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.block = nn.Sequential(*layers)
    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_res else y

class SE(nn.Module):
    def __init__(self, c, r=4):
        super().__init__()
        self.fc1 = nn.Conv2d(c, max(8, c // r), 1)
        self.fc2 = nn.Conv2d(max(8, c // r), c, 1)
    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s

class MobileNet(nn.Module):
    def __init__(self, act=nn.ReLU6, se=False, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), act())
        cfg = [(16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (64, 2, 6)]
        blocks, c = [], 16
        for cout, s, e in cfg:
            blocks.append(InvertedResidual(c, cout, s, e, act, se))
            c = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Conv2d(c, 128, 1), act())
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(128, classes)
    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(self.drop(x))

CASES["mobilenet_v2"] = lambda: (MobileNet(), (torch.randn(1, 3, 64, 64),), {})

CASES["mobilenet_v3"] = lambda: (MobileNet(act=nn.Hardswish, se=True), (torch.randn(2, 3, 64, 64),), {})

CASES["mobilenet_v3_fp16"] = lambda: (MobileNet(act=nn.Hardswish, se=True), (torch.randn(2, 3, 64, 64),), dict(precision="fp16"))

CASES["mobilenet_v2_dynbatch"] = lambda: (MobileNet(), (torch.randn(2, 3, 64, 64),), dict(dynamic_shapes=({0: Dim("batch", min=1, max=8)},)))

class LSTMModel(nn.Module):
    def __init__(self, vocab=100, emb=32, hidden=32, gru=False):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        rnn = nn.GRU if gru else nn.LSTM
        self.rnn = rnn(emb, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, 5)
    def forward(self, ids):
        out, _ = self.rnn(self.emb(ids))
        return self.fc(out[:, -1])

CASES["lstm"] = lambda: (LSTMModel(), (torch.randint(0, 100, (2, 12)),), {})

CASES["gru"] = lambda: (LSTMModel(gru=True), (torch.randint(0, 100, (2, 12)),), {})

class MultiOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 4)
        self.b = nn.Linear(8, 3)
    def forward(self, x):
        return {"logits": self.a(x), "aux": (self.b(x), torch.relu(x))}

CASES["dict_tuple_outputs"] = lambda: (MultiOut(), (torch.randn(2, 8),), {})

class Linear8(nn.Module):
    """A linear layer ``self.l`` (8 -> 8) for the probes below, each with its own forward."""
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(8, 8)

class InPlace(Linear8):
    def forward(self, x):
        y = self.l(x)
        y.relu_()
        y.add_(1.0)
        y.mul_(x)
        y[:, 0] = 0.0
        return y

CASES["inplace_ops"] = lambda: (InPlace(), (torch.randn(2, 8),), {})

class InputMutation(nn.Module):
    def forward(self, x):
        x.add_(1.0)
        return x * 2

CASES["mutates_input"] = lambda: (InputMutation(), (torch.randn(2, 8),), {})

class ReturnsInput(Linear8):
    def forward(self, x, y):
        return self.l(x), y

CASES["returns_input"] = lambda: (ReturnsInput(), (torch.randn(2, 8), torch.randn(3)), {})

class ReturnsConst(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(8, 8)
        self.register_buffer("c", torch.arange(4.0))
    def forward(self, x):
        return self.l(x), self.c

CASES["returns_constant"] = lambda: (ReturnsConst(), (torch.randn(2, 8),), {})

class OnlyIdentity(nn.Module):
    def forward(self, x):
        return x

CASES["identity_only"] = lambda: (OnlyIdentity(), (torch.randn(2, 8),), {})

class BoolMask(Linear8):
    def forward(self, x, mask):
        y = self.l(x)
        return y.masked_fill(~mask, 0.0), mask.sum(-1)

CASES["bool_mask_input"] = lambda: (BoolMask(), (torch.randn(2, 4, 8), torch.rand(2, 4, 8) > 0.5), {})

class IntOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 16)
    def forward(self, ids, pos):
        return self.emb(ids) + self.emb(pos), ids.argmax(-1), (ids * 2 + pos)

CASES["int64_embedding_outputs"] = lambda: (IntOps(), (torch.randint(0, 50, (2, 6)), torch.randint(0, 50, (2, 6))), {})

# ---------------- transformers ----------------
def _tf():
    import transformers
    return transformers

class HFWrap(nn.Module):
    def __init__(self, model, key="last_hidden_state", kw=None):
        super().__init__()
        self.model, self.key, self.kw = model, key, kw or {}
    def forward(self, *args):
        out = self.model(*args, **self.kw)
        return out[self.key] if self.key else out

class HFKw(nn.Module):
    """forward(input_ids, attention_mask) -> last_hidden_state"""
    def __init__(self, model, names, key="last_hidden_state", kw=None):
        super().__init__()
        self.model, self.names, self.key, self.kw = model, names, key, kw or {}
    def forward(self, *args):
        out = self.model(**dict(zip(self.names, args)), **self.kw)
        return out[self.key] if self.key else out

def _ids(b=2, s=16, v=1000):
    return torch.randint(0, v, (b, s))

@case("distilbert_mask")
def _():
    t = _tf()
    cfg = t.DistilBertConfig(vocab_size=1000, dim=64, n_layers=2, n_heads=4, hidden_dim=128, max_position_embeddings=64)
    m = t.DistilBertModel(cfg)
    mask = torch.ones(2, 16, dtype=torch.long); mask[1, 10:] = 0
    return HFKw(m, ["input_ids", "attention_mask"]), (_ids(), mask), {}

@case("roberta")
def _():
    t = _tf()
    cfg = t.RobertaConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, max_position_embeddings=80)
    return HFKw(t.RobertaModel(cfg), ["input_ids"]), (_ids(),), {}

@case("albert")
def _():
    t = _tf()
    cfg = t.AlbertConfig(vocab_size=1000, embedding_size=32, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, max_position_embeddings=64)
    return HFKw(t.AlbertModel(cfg), ["input_ids"]), (_ids(),), {}

def _decoder_cfg(cls, **extra):
    return cls(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, max_position_embeddings=128, **extra)

@case("llama")
def _():
    t = _tf()
    m = t.LlamaForCausalLM(_decoder_cfg(t.LlamaConfig))
    return HFKw(m, ["input_ids"], key="logits", kw={"use_cache": False}), (_ids(1, 16),), {}

@case("llama_fp16")
def _():
    t = _tf()
    m = t.LlamaForCausalLM(_decoder_cfg(t.LlamaConfig))
    return HFKw(m, ["input_ids"], key="logits", kw={"use_cache": False}), (_ids(1, 16),), dict(precision="fp16")

@case("mistral")
def _():
    t = _tf()
    m = t.MistralModel(_decoder_cfg(t.MistralConfig, sliding_window=8))
    return HFKw(m, ["input_ids"], kw={"use_cache": False}), (_ids(1, 16),), {}

@case("qwen2")
def _():
    t = _tf()
    m = t.Qwen2Model(_decoder_cfg(t.Qwen2Config))
    return HFKw(m, ["input_ids"], kw={"use_cache": False}), (_ids(1, 16),), {}

def _llama(batch: int, dims: dict):
    t = _tf()
    m = t.LlamaModel(_decoder_cfg(t.LlamaConfig))
    return HFKw(m, ["input_ids"], kw={"use_cache": False}), (_ids(batch, 16),), dict(dynamic_shapes=((dims,),))

CASES["llama_dynseq"] = lambda: (_llama(1, {1: Dim("seq", min=2, max=64)}))

@case("gpt2_dynseq")
def _():
    t = _tf()
    cfg = t.GPT2Config(vocab_size=1000, n_positions=128, n_embd=64, n_layer=2, n_head=4)
    m = t.GPT2Model(cfg)
    return HFKw(m, ["input_ids"], kw={"use_cache": False}), (_ids(1, 16),), dict(dynamic_shapes=(({1: Dim("seq", min=2, max=64)},),))

@case("gpt2_dynbatch_mask")
def _():
    t = _tf()
    cfg = t.GPT2Config(vocab_size=1000, n_positions=128, n_embd=64, n_layer=2, n_head=4)
    m = t.GPT2Model(cfg)
    mask = torch.ones(2, 16, dtype=torch.long)
    return HFKw(m, ["input_ids", "attention_mask"], kw={"use_cache": False}), (_ids(2, 16), mask), dict(dynamic_shapes=(({0: Dim("batch", min=1, max=8)}, {0: Dim("batch", min=1, max=8)}),))

@case("convnext")
def _():
    t = _tf()
    cfg = t.ConvNextConfig(num_channels=3, hidden_sizes=[16, 32, 48, 64], depths=[1, 1, 2, 1], image_size=64)
    return HFKw(t.ConvNextModel(cfg), ["pixel_values"], key="pooler_output"), (torch.randn(1, 3, 64, 64),), {}

@case("swin")
def _():
    t = _tf()
    cfg = t.SwinConfig(image_size=64, patch_size=4, embed_dim=16, depths=[2, 2], num_heads=[2, 4], window_size=4)
    return HFKw(t.SwinModel(cfg), ["pixel_values"]), (torch.randn(1, 3, 64, 64),), {}

@case("efficientnet")
def _():
    t = _tf()
    cfg = t.EfficientNetConfig(image_size=64, width_coefficient=0.25, depth_coefficient=0.25, hidden_dim=320)
    return HFKw(t.EfficientNetModel(cfg), ["pixel_values"], key="pooler_output"), (torch.randn(1, 3, 64, 64),), {}

@case("mobilenet_v2_hf")
def _():
    t = _tf()
    cfg = t.MobileNetV2Config(image_size=64, depth_multiplier=0.35)
    return HFKw(t.MobileNetV2Model(cfg), ["pixel_values"], key="pooler_output"), (torch.randn(1, 3, 64, 64),), {}

@case("whisper_encoder")
def _():
    t = _tf()
    cfg = t.WhisperConfig(vocab_size=1000, num_mel_bins=16, d_model=64, encoder_layers=2, encoder_attention_heads=4,
                          decoder_layers=1, decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128, max_source_positions=50, pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    m = t.WhisperModel(cfg).get_encoder()
    return HFKw(m, ["input_features"]), (torch.randn(1, 16, 100),), {}

@case("wav2vec2")
def _():
    t = _tf()
    cfg = t.Wav2Vec2Config(vocab_size=32, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                           conv_dim=(32, 32), conv_stride=(5, 2), conv_kernel=(10, 3), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    return HFKw(t.Wav2Vec2Model(cfg), ["input_values"]), (torch.randn(1, 1600),), {}

@case("clip")
def _():
    t = _tf()
    text = dict(vocab_size=1000, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=32)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8)
    cfg = t.CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    class C(nn.Module):
        def __init__(s):
            super().__init__(); s.m = t.CLIPModel(cfg)
        def forward(s, ids, pix):
            o = s.m(input_ids=ids, pixel_values=pix)
            return o.logits_per_image, o.text_embeds, o.image_embeds
    return C(), (_ids(2, 8), torch.randn(2, 3, 32, 32)), {}

@case("t5_full")
def _():
    t = _tf()
    cfg = t.T5Config(vocab_size=1000, d_model=64, d_kv=16, d_ff=128, num_layers=1, num_decoder_layers=1, num_heads=4)
    m = t.T5ForConditionalGeneration(cfg)
    return HFKw(m, ["input_ids", "decoder_input_ids"], key="logits", kw={"use_cache": False}), (_ids(1, 12), _ids(1, 6)), {}

@case("bert_seqcls_dict")
def _():
    t = _tf()
    cfg = t.BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, max_position_embeddings=64, num_labels=3)
    m = t.BertForSequenceClassification(cfg)
    class W(nn.Module):
        def __init__(s):
            super().__init__(); s.m = m
        def forward(s, ids, mask, tt):
            o = s.m(input_ids=ids, attention_mask=mask, token_type_ids=tt, output_hidden_states=True)
            return {"logits": o.logits, "hidden": o.hidden_states}
    mask = torch.ones(2, 16, dtype=torch.long); mask[0, 12:] = 0
    return W(), (_ids(), mask, torch.zeros(2, 16, dtype=torch.long)), {}

@case("detr")
def _():
    t = _tf()
    cfg = t.DetrConfig(use_timm_backbone=False, use_pretrained_backbone=False,
                       backbone_config=t.ResNetConfig(embedding_size=16, hidden_sizes=[16, 32, 48, 64], depths=[1, 1, 1, 1], out_features=["stage4"]),
                       d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=4, decoder_attention_heads=4,
                       encoder_ffn_dim=64, decoder_ffn_dim=64, num_queries=10)
    m = t.DetrForObjectDetection(cfg)
    class W(nn.Module):
        def __init__(s):
            super().__init__(); s.m = m
        def forward(s, pix):
            o = s.m(pixel_values=pix)
            return o.logits, o.pred_boxes
    return W(), (torch.randn(1, 3, 64, 64),), {}

CASES["inplace_dynbatch"] = lambda: (InPlace(), (torch.randn(2, 8),), dict(dynamic_shapes=({0: Dim("batch", min=1, max=8)},)))

class SliceAssign(Linear8):
    def forward(self, x, v):
        y = self.l(x)
        y[:, 2:4] = v
        y[0] = 1.0
        return y

CASES["slice_assign_tensor"] = lambda: (SliceAssign(), (torch.randn(3, 8), torch.randn(3, 1)), {})

class ScalarOut(nn.Module):
    def forward(self, x):
        return (x * x).sum(), x.mean()

CASES["scalar_outputs"] = lambda: (ScalarOut(), (torch.randn(3, 4),), {})

class SameTwice(nn.Module):
    def __init__(self):
        super().__init__(); self.l = nn.Linear(4, 4)
    def forward(self, x):
        y = self.l(x)
        return y, y, x[0]

CASES["aliased_outputs"] = lambda: (SameTwice(), (torch.randn(3, 4),), {})

class UNetish(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(3, 8, 3, 2, 1)
        self.gn = nn.GroupNorm(2, 8)
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.up = nn.ConvTranspose2d(8, 8, 2, 2)
        self.ps = nn.Conv2d(8, 12, 3, 1, 1)
        self.g = nn.Conv2d(8, 8, 3, 1, 1, groups=4)
    def forward(self, x):
        d = F.silu(self.gn(self.down(x)))
        u = self.up(self.inorm(d))
        i = F.interpolate(d, scale_factor=2, mode="bilinear", align_corners=False)
        n = F.interpolate(d, scale_factor=2, mode="nearest")
        p = F.pixel_shuffle(self.ps(d), 2)
        return torch.cat([u + i + n + self.g(u), p], 1)

CASES["unet_ops"] = lambda: (UNetish(), (torch.randn(1, 3, 32, 32),), {})

class Misc(nn.Module):
    def forward(self, x, idx):
        c = torch.cumsum(x, -1)
        v, i = torch.topk(x, 3, dim=-1)
        s, _ = torch.sort(x, dim=-1)
        e = torch.einsum("bij,bkj->bik", x, x)
        g = torch.gather(x, -1, idx)
        w = torch.where(x > 0, x, torch.zeros_like(x))
        return c, v, i, s, e, g, w, x.argmax(-1)

CASES["misc_ops"] = lambda: (Misc(), (torch.randn(2, 4, 8), torch.randint(0, 8, (2, 4, 3))), {})

class Fft(nn.Module):
    def forward(self, x):
        return torch.fft.rfft(x).abs()

CASES["rfft"] = lambda: (Fft(), (torch.randn(2, 16),), {})

class Bf16(nn.Module):
    def __init__(self):
        super().__init__(); self.l = nn.Linear(16, 16); self.n = nn.LayerNorm(16)
    def forward(self, x):
        return F.gelu(self.n(self.l(x)))

CASES["bf16_mlp"] = lambda: (Bf16(), (torch.randn(2, 16),), dict(precision="bf16"))

class Int32In(nn.Module):
    def __init__(self):
        super().__init__(); self.e = nn.Embedding(20, 8)
    def forward(self, ids):
        return self.e(ids.long()) * 2, ids + 1

CASES["int32_input"] = lambda: (Int32In(), (torch.randint(0, 20, (2, 5), dtype=torch.int32),), {})

class Nonzero(nn.Module):
    def forward(self, x):
        return torch.nonzero(x > 0), x * 2

CASES["nonzero_dds"] = lambda: (Nonzero(), (torch.randn(4, 4),), {})

class KwOnly(nn.Module):
    def __init__(self):
        super().__init__(); self.l = nn.Linear(4, 4)
    def forward(self, x, scale: float = 2.0):
        return self.l(x) * scale

CASES["default_arg"] = lambda: (KwOnly(), (torch.randn(2, 4),), {})

class BufferMut(nn.Module):
    def __init__(self):
        super().__init__(); self.register_buffer("count", torch.zeros(4))
    def forward(self, x):
        self.count.add_(x.sum(0))
        return x * self.count

CASES["buffer_mutation"] = lambda: (BufferMut(), (torch.randn(2, 4),), {})

class Fp16Input(nn.Module):
    def __init__(self):
        super().__init__(); self.l = nn.Linear(8, 8)
    def forward(self, x):
        return self.l(x.float()).half()

CASES["fp16_io_fp32_compute"] = lambda: (Fp16Input(), (torch.randn(2, 8).half(),), {})

CASES["empty_batch"] = lambda: (MLPs(), (torch.randn(0, 8),), {})

class MLPs(nn.Module):
    def __init__(self):
        super().__init__(); self.l = nn.Linear(8, 4)
    def forward(self, x):
        return self.l(x)

CASES["mlp_dynbatch_min1"] = lambda: (MLPs(), (torch.randn(1, 8),), dict(dynamic_shapes=({0: Dim("batch", min=1, max=16)},)))

CASES["llama_dynbatch"] = lambda: (_llama(2, {0: Dim("batch", min=1, max=8)}))

@case("bert_dyn_batch_seq")
def _():
    t = _tf()
    cfg = t.BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, max_position_embeddings=64)
    b, s = Dim("batch", min=1, max=8), Dim("seq", min=2, max=64)
    mask = torch.ones(2, 16, dtype=torch.long)
    return HFKw(t.BertModel(cfg), ["input_ids", "attention_mask"]), (_ids(2, 16), mask), dict(dynamic_shapes=(({0: b, 1: s}, {0: b, 1: s}),))

@case("vit_hf_dynbatch")
def _():
    t = _tf()
    cfg = t.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    return HFKw(t.ViTModel(cfg), ["pixel_values"], key="pooler_output"), (torch.randn(2, 3, 32, 32),), dict(dynamic_shapes=(({0: Dim("batch", min=1, max=8)},),))

@case("swin_dynbatch")
def _():
    t = _tf()
    cfg = t.SwinConfig(image_size=64, patch_size=4, embed_dim=16, depths=[2, 2], num_heads=[2, 4], window_size=4)
    return HFKw(t.SwinModel(cfg), ["pixel_values"]), (torch.randn(2, 3, 64, 64),), dict(dynamic_shapes=(({0: Dim("batch", min=1, max=4)},),))

@case("convnext_fp16")
def _():
    t = _tf()
    cfg = t.ConvNextConfig(num_channels=3, hidden_sizes=[16, 32, 48, 64], depths=[1, 1, 2, 1], image_size=64)
    return HFKw(t.ConvNextModel(cfg), ["pixel_values"], key="pooler_output"), (torch.randn(1, 3, 64, 64),), dict(precision="fp16")

@case("t5_dynseq")
def _():
    t = _tf()
    cfg = t.T5Config(vocab_size=1000, d_model=64, d_kv=16, d_ff=128, num_layers=1, num_decoder_layers=1, num_heads=4)
    m = t.T5EncoderModel(cfg)
    return HFKw(m, ["input_ids"]), (_ids(1, 12),), dict(dynamic_shapes=(({1: Dim("seq", min=2, max=64)},),))

class Cond(nn.Module):
    def __init__(self):
        super().__init__(); self.a = nn.Linear(4, 4); self.b = nn.Linear(4, 4)
    def forward(self, x):
        return torch.cond(x.sum() > 0, lambda v: self.a(v), lambda v: self.b(v), (x,))

CASES["torch_cond"] = lambda: (Cond(), (torch.randn(2, 4),), {})

CASES["lstm_dynseq"] = lambda: (LSTMModel(), (torch.randint(0, 100, (2, 12)),), dict(dynamic_shapes=({1: Dim("seq", min=2, max=32)},)))

class NoneOut(nn.Module):
    def __init__(self):
        super().__init__(); self.l = nn.Linear(4, 4)
    def forward(self, x):
        return [self.l(x), None, {"k": x.sum(-1)}]

CASES["none_in_outputs"] = lambda: (NoneOut(), (torch.randn(2, 4),), {})

class Bn1dTrain(nn.Module):
    def __init__(self):
        super().__init__(); self.l = nn.Linear(8, 8); self.bn = nn.BatchNorm1d(8); self.d = nn.Dropout(0.5)
    def forward(self, x):
        return self.d(self.bn(self.l(x)))

@case("train_mode_bn_dropout")
def _():
    m = Bn1dTrain(); m.train()
    return m, (torch.randn(4, 8),), {}

class Where3(nn.Module):
    def forward(self, x, m):
        return torch.where(m, x, -x), m.logical_not(), m.to(torch.float32)

CASES["bool_outputs"] = lambda: (Where3(), (torch.randn(3, 4), torch.rand(3, 4) > 0.5), {})
