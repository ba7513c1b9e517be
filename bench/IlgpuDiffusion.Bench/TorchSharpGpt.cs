using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace IlgpuDiffusion.Bench;

/// <summary>
/// A <see cref="Gpt"/> (GPT-2 layout, learned positions) in TorchSharp (libtorch CPU, fp32, 2 threads) with its own KV-cache
/// decoding loop, the peer of <see cref="GptDecoder"/> in <see cref="ArDecodeBenchmarks"/>. The weights are copied from ours
/// by name (our Linear weights are [out, in], as <c>F.linear</c> takes them), so both compute the same model; the constructor
/// checks that the first next-token logits agree. Per step: embedding + position row, for every block LayerNorm →
/// c_attn → append k and v to preallocated [B, H, capacity, hd] caches → SDPA of the new query over the cached positions →
/// c_proj → residual → LayerNorm → c_fc → GELU-tanh → c_proj → residual; then ln_f, the head and a multinomial draw at
/// temperature 1 (no top-k/top-p, end-of-text ignored).
/// </summary>
internal sealed class TorchSharpGpt : IDisposable
{
    private readonly GptConfig _config;
    private readonly Dictionary<string, Tensor> _weights = [];
    private readonly Tensor _head; // wte.weight when tied, else lm_head.weight [V, D]
    private readonly Tensor[] _keys, _values; // per block [B, H, capacity, hd]
    private readonly int _batch, _capacity;

    public TorchSharpGpt(Gpt model, int batch, int capacity)
    {
        if (model.Config.Positions != GptPositions.Learned)
            throw new ArgumentException("The TorchSharp peer implements the GPT-2 layout (learned positions) only.", nameof(model));
        torch.set_num_threads(2);
        torch.manual_seed(1);
        _config = model.Config;
        _batch = batch;
        _capacity = capacity;
        foreach (var (name, shape) in model.Parameters.Entries)
            _weights[name] = torch.tensor(model.Parameters[name].ToArray(),
                Enumerable.Range(0, shape.Rank).Select(axis => (long)shape[axis]).ToArray());
        _head = _weights[_config.TiedHead ? "wte.weight" : "lm_head.weight"];
        _keys = Enumerable.Range(0, _config.Layers).Select(_ => torch.zeros(batch, _config.Heads, capacity, _config.HeadDim)).ToArray();
        _values = Enumerable.Range(0, _config.Layers).Select(_ => torch.zeros(batch, _config.Heads, capacity, _config.HeadDim)).ToArray();
    }

    /// <summary>Decodes from one prompt token to <c>capacity</c> tokens per sequence; returns the last drawn id of sequence 0.</summary>
    public long Generate(int promptToken)
    {
        using var noGrad = torch.no_grad();
        var ids = torch.full(_batch, 1, promptToken, ScalarType.Int64);
        for (int position = 0; position < _capacity - 1; position++)
        {
            using var scope = torch.NewDisposeScope();
            var probabilities = F.softmax(NextLogits(ids, position), -1);
            var drawn = torch.multinomial(probabilities, 1);
            ids.Dispose();
            ids = drawn.MoveToOuterDisposeScope();
        }
        long last = ids[0, 0].item<long>();
        ids.Dispose();
        return last;
    }

    /// <summary>The next-token logits [B, V] after appending <paramref name="ids"/> [B, 1] at <paramref name="position"/>.</summary>
    public Tensor NextLogits(Tensor ids, int position)
    {
        int d = _config.Hidden, heads = _config.Heads, headDim = _config.HeadDim;
        var x = _weights["wte.weight"].index_select(0, ids.view(-1)) + _weights["wpe.weight"][position];   // [B, D]
        for (int l = 0; l < _config.Layers; l++)
        {
            string h = $"h.{l}.";
            var normed = F.layer_norm(x, [d], _weights[h + "ln_1.weight"], _weights[h + "ln_1.bias"], GptConfig.LayerNormEpsilon);
            var qkv = F.linear(normed, _weights[h + "attn.c_attn.weight"], _weights[h + "attn.c_attn.bias"])
                .view(_batch, 3, heads, 1, headDim).permute(1, 0, 2, 3, 4);   // [3, B, H, 1, hd]
            _keys[l].narrow(2, position, 1).copy_(qkv[1]);
            _values[l].narrow(2, position, 1).copy_(qkv[2]);
            var attention = F.scaled_dot_product_attention(qkv[0], _keys[l].narrow(2, 0, position + 1),
                _values[l].narrow(2, 0, position + 1), null, 0.0, false)
                .reshape(_batch, d);
            x = x + F.linear(attention, _weights[h + "attn.c_proj.weight"], _weights[h + "attn.c_proj.bias"]);
            normed = F.layer_norm(x, [d], _weights[h + "ln_2.weight"], _weights[h + "ln_2.bias"], GptConfig.LayerNormEpsilon);
            var hidden = F.gelu(F.linear(normed, _weights[h + "mlp.c_fc.weight"], _weights[h + "mlp.c_fc.bias"]),
                TorchSharp.Modules.GELU.Approximate.tanh, false);
            x = x + F.linear(hidden, _weights[h + "mlp.c_proj.weight"], _weights[h + "mlp.c_proj.bias"]);
        }
        x = F.layer_norm(x, [d], _weights["ln_f.weight"], _weights["ln_f.bias"], GptConfig.LayerNormEpsilon);
        return F.linear(x, _head);
    }

    public void Dispose()
    {
        foreach (var tensor in _weights.Values) tensor.Dispose();
        foreach (var tensor in _keys.Concat(_values)) tensor.Dispose();
    }
}
