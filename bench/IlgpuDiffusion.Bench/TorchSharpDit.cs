using IlgpuDiffusion.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace IlgpuDiffusion.Bench;

/// <summary>
/// The MDLM DiT of docs/algorithms.md §1.2 written with TorchSharp (libtorch CPU, fp32), the peer of <see cref="Dit"/> in
/// <see cref="TrainingStepBenchmarks"/>: the same shapes and ops (no time conditioning: the conditioning vector
/// comes from σ = 0; adaLN; LayerNorm without bias; rotate-half rotary; bidirectional SDPA; GELU-tanh MLP;
/// dropout before the gates; output head on the selected rows only). Weights use TorchSharp's default
/// initialization: only the speed is compared.
/// </summary>
internal sealed class TorchSharpDit : nn.Module
{
    private readonly DitConfig _config;
    private readonly Parameter _embedding;
    private readonly Linear _sigma0, _sigma2, _finalAda, _output;
    private readonly Parameter _finalNorm;
    private readonly ModuleList<TorchSharpDitBlock> _blocks;
    private readonly Tensor _frequencies, _cos, _sin;

    public TorchSharpDit(DitConfig config) : base("TorchSharpDit")
    {
        _config = config;
        int d = config.Hidden, c = config.CondDim, half = config.HeadDim / 2;
        _embedding = nn.Parameter(torch.rand(config.Vocab, d) * (2.0 / Math.Sqrt(d)) - 1.0 / Math.Sqrt(d));
        _sigma0 = nn.Linear(DitConfig.FrequencyEmbeddingSize, c);
        _sigma2 = nn.Linear(c, c);
        _blocks = nn.ModuleList(Enumerable.Range(0, config.Layers).Select(_ => new TorchSharpDitBlock(config)).ToArray());
        _finalNorm = nn.Parameter(torch.ones(d));
        _finalAda = nn.Linear(c, 2 * d);
        _output = nn.Linear(d, config.Vocab);
        // σ = 0: the timestep embedding is 128 cosines of 0 then 128 sines of 0.
        _frequencies = torch.cat([torch.ones(1, DitConfig.FrequencyEmbeddingSize / 2),
            torch.zeros(1, DitConfig.FrequencyEmbeddingSize / 2)], 1);
        var inverse = torch.pow(10000.0, -torch.arange(0, half, dtype: ScalarType.Float32) * 2.0 / config.HeadDim);
        var angles = torch.outer(torch.arange(0, config.Length, dtype: ScalarType.Float32), inverse);   // [L, hd/2]
        _cos = angles.cos();
        _sin = angles.sin();
        RegisterComponents();
    }

    /// <summary>
    /// Raw logits of <paramref name="headRows"/> (indices into batch·tokens) for <paramref name="ids"/> [B, L] (int64). [rows, V]
    /// </summary>
    public Tensor Forward(Tensor ids, Tensor headRows, bool training)
    {
        long batch = ids.shape[0], tokens = ids.shape[1];
        int d = _config.Hidden;
        var x = _embedding.index_select(0, ids.view(-1)).view(batch, tokens, d);
        var condition = F.silu(_sigma2.forward(F.silu(_sigma0.forward(_frequencies))));   // [1, C]
        var (ropeCos, ropeSin) = (_cos.narrow(0, 0, tokens), _sin.narrow(0, 0, tokens));
        foreach (var block in _blocks) x = block.Forward(x, condition, ropeCos, ropeSin, training);
        var modulation = _finalAda.forward(condition).chunk(2, -1);   // shift, scale
        var h = F.layer_norm(x, [d], null, null, DitConfig.LayerNormEpsilon) * _finalNorm;
        h = h * (1 + modulation[1]) + modulation[0];
        return _output.forward(h.view(batch * tokens, d).index_select(0, headRows));
    }
}

/// <summary>One DiT block: adaLN-modulated attention and MLP branches with gated residuals.</summary>
internal sealed class TorchSharpDitBlock : nn.Module
{
    private readonly DitConfig _config;
    private readonly Parameter _norm1, _norm2;
    private readonly Linear _qkv, _attentionOut, _mlp0, _mlp2, _ada;

    public TorchSharpDitBlock(DitConfig config) : base("TorchSharpDitBlock")
    {
        _config = config;
        int d = config.Hidden;
        _norm1 = nn.Parameter(torch.ones(d));
        _norm2 = nn.Parameter(torch.ones(d));
        _qkv = nn.Linear(d, 3 * d, hasBias: false);
        _attentionOut = nn.Linear(d, d, hasBias: false);
        _mlp0 = nn.Linear(d, config.MlpHidden);
        _mlp2 = nn.Linear(config.MlpHidden, d);
        _ada = nn.Linear(config.CondDim, 6 * d);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor condition, Tensor cos, Tensor sin, bool training)
    {
        long batch = x.shape[0], tokens = x.shape[1];
        int d = _config.Hidden, heads = _config.Heads, headDim = _config.HeadDim;
        var m = _ada.forward(condition).chunk(6, -1);   // shift1, scale1, gate1, shift2, scale2, gate2: [1, D] each
        var h = F.layer_norm(x, [d], null, null, DitConfig.LayerNormEpsilon) * _norm1;
        h = h * (1 + m[1]) + m[0];
        var packed = _qkv.forward(h).view(batch, tokens, 3, heads, headDim).permute(2, 0, 3, 1, 4);   // [3, B, H, L, hd]
        var q = Rotate(packed[0], cos, sin);
        var k = Rotate(packed[1], cos, sin);
        var attention = F.scaled_dot_product_attention(q, k, packed[2], null, 0.0, false)
            .transpose(1, 2).reshape(batch, tokens, d);
        x = x + m[2] * F.dropout(_attentionOut.forward(attention), _config.Dropout, training, false);
        h = F.layer_norm(x, [d], null, null, DitConfig.LayerNormEpsilon) * _norm2;
        h = h * (1 + m[4]) + m[3];
        var mlp = _mlp2.forward(F.gelu(_mlp0.forward(h), GELU.Approximate.tanh, false));
        return x + m[5] * F.dropout(mlp, _config.Dropout, training, false);
    }

    /// <summary>Rotate-half rotary on [B, H, L, hd] with tables [L, hd/2].</summary>
    private static Tensor Rotate(Tensor u, Tensor cos, Tensor sin)
    {
        var halves = u.chunk(2, -1);
        return torch.cat([halves[0] * cos - halves[1] * sin, halves[0] * sin + halves[1] * cos], -1);
    }
}

/// <summary>
/// One MDLM training step of <see cref="TorchSharpDit"/>, mirroring <see cref="Diffusion.MdlmTrainer.TrainStep"/>: the
/// same batches, times and masks (our host-side <see cref="Data.Batcher"/>, <see cref="Diffusion.TimeSampler"/> and
/// <see cref="Diffusion.MaskedDiffusion"/>), SUBS cross-entropy weighted 1/t over the masked rows divided by B·L,
/// backward, clip_grad_norm_ 1.0, torch.optim.AdamW (lr 3e-4), EMA update. libtorch runs on 2 threads.
/// </summary>
internal sealed class TorchSharpTrainingStep : IDisposable
{
    private readonly TorchSharpDit _model;
    private readonly Data.Batcher _batcher;
    private readonly Diffusion.CorruptedBatch _batch;
    private readonly Diffusion.MaskedDiffusion _diffusion;
    private readonly int[] _clean;
    private readonly Parameter[] _parameters;
    private readonly Tensor[] _ema;
    private readonly optim.Optimizer _optimizer;
    private readonly Tensor _maskBias;
    private ulong _step;

    public TorchSharpTrainingStep(DitConfig config, Data.TokenShardSet data, int batchSize)
    {
        torch.set_num_threads(2);
        torch.manual_seed(1);
        _model = new TorchSharpDit(config);
        _batcher = new Data.Batcher(data, batchSize, seed: 1);
        _batch = new Diffusion.CorruptedBatch(batchSize, data.SequenceLength);
        _diffusion = new Diffusion.MaskedDiffusion(Diffusion.NoiseSchedule.LogLinear, config.MaskIndex);
        _clean = new int[_batch.Elements];
        _parameters = _model.parameters().ToArray();
        using (torch.no_grad()) _ema = _parameters.Select(p => p.detach().clone()).ToArray();
        _optimizer = optim.AdamW(_parameters, lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0);
        _maskBias = torch.zeros(config.Vocab);
        _maskBias[config.MaskIndex] = torch.tensor(-1e6f);
    }

    /// <summary>Takes one step and returns the loss.</summary>
    public double Step()
    {
        using var scope = torch.NewDisposeScope();
        _batcher.NextBatch(_clean);
        Diffusion.TimeSampler.Mdlm.Sample(1, _step, _batch.Times);
        _diffusion.Corrupt(_clean, 2, _step++, _batch);
        int masked = _batch.MaskedCount;
        var ids = torch.tensor(Array.ConvertAll(_batch.NoisyIds, id => (long)id), [_batch.BatchSize, _batch.SequenceLength]);
        var rows = torch.tensor(Array.ConvertAll(_batch.MaskedRows[..masked], r => (long)r));
        var targets = torch.tensor(Array.ConvertAll(_batch.Targets[..masked], t => (long)t));
        var weights = torch.tensor(_batch.Weights[..masked]);

        _optimizer.zero_grad();
        var logProbs = F.log_softmax(_model.Forward(ids, rows, training: true) + _maskBias, 1);
        var nll = -logProbs.gather(1, targets.unsqueeze(1)).squeeze(1);
        var loss = (nll * weights).sum() / _batch.Elements;
        loss.backward();
        nn.utils.clip_grad_norm_(_parameters, 1.0, 2.0);
        _optimizer.step();
        using (torch.no_grad())
            for (int i = 0; i < _parameters.Length; i++) _ema[i].mul_(0.9999).add_(_parameters[i], alpha: 1 - 0.9999);
        return loss.item<float>();
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        foreach (var e in _ema) e.Dispose();
        _maskBias.Dispose();
        _model.Dispose();
    }
}
