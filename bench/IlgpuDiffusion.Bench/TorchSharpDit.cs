using IlgpuDiffusion.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace IlgpuDiffusion.Bench;

/// <summary>
/// The MDLM DiT of spec §1.2 written with TorchSharp (libtorch CPU, fp32), the peer of <see cref="Dit"/> in
/// <see cref="TrainingStepBenchmarks"/>: the same shapes and ops (no time conditioning: the conditioning vector
/// comes from σ = 0; adaLN; LayerNorm without bias; rotate-half rotary; bidirectional SDPA; GELU-tanh MLP;
/// dropout before the gates; output head on the selected rows only). Weights use TorchSharp's default
/// initialization: only the speed is compared.
/// </summary>
internal sealed class TorchSharpDit : nn.Module
{
    private readonly DitConfig config;
    private readonly Parameter embedding;
    private readonly Linear sigma0, sigma2, finalAda, output;
    private readonly Parameter finalNorm;
    private readonly ModuleList<TorchSharpDitBlock> blocks;
    private readonly Tensor frequencies, cos, sin;

    public TorchSharpDit(DitConfig config) : base("TorchSharpDit")
    {
        this.config = config;
        int d = config.Hidden, c = config.CondDim, half = config.HeadDim / 2;
        embedding = nn.Parameter(torch.rand(config.Vocab, d) * (2.0 / Math.Sqrt(d)) - 1.0 / Math.Sqrt(d));
        sigma0 = nn.Linear(DitConfig.FrequencyEmbeddingSize, c);
        sigma2 = nn.Linear(c, c);
        blocks = nn.ModuleList(Enumerable.Range(0, config.Layers).Select(_ => new TorchSharpDitBlock(config)).ToArray());
        finalNorm = nn.Parameter(torch.ones(d));
        finalAda = nn.Linear(c, 2 * d);
        output = nn.Linear(d, config.Vocab);
        // σ = 0: the timestep embedding is 128 cosines of 0 then 128 sines of 0.
        frequencies = torch.cat([torch.ones(1, DitConfig.FrequencyEmbeddingSize / 2), torch.zeros(1, DitConfig.FrequencyEmbeddingSize / 2)], 1);
        var inverse = torch.pow(10000.0, -torch.arange(0, half, dtype: ScalarType.Float32) * 2.0 / config.HeadDim);
        var angles = torch.outer(torch.arange(0, config.Length, dtype: ScalarType.Float32), inverse);   // [L, hd/2]
        cos = angles.cos();
        sin = angles.sin();
        RegisterComponents();
    }

    /// <summary>Raw logits of <paramref name="headRows"/> (indices into batch·tokens) for <paramref name="ids"/> [B, L] (int64). [rows, V]</summary>
    public Tensor Forward(Tensor ids, Tensor headRows, bool training)
    {
        long batch = ids.shape[0], tokens = ids.shape[1];
        int d = config.Hidden;
        var x = embedding.index_select(0, ids.view(-1)).view(batch, tokens, d);
        var condition = F.silu(sigma2.forward(F.silu(sigma0.forward(frequencies))));   // [1, C]
        var (ropeCos, ropeSin) = (cos.narrow(0, 0, tokens), sin.narrow(0, 0, tokens));
        foreach (var block in blocks) x = block.Forward(x, condition, ropeCos, ropeSin, training);
        var modulation = finalAda.forward(condition).chunk(2, -1);   // shift, scale
        var h = F.layer_norm(x, [d], null, null, DitConfig.LayerNormEpsilon) * finalNorm;
        h = h * (1 + modulation[1]) + modulation[0];
        return output.forward(h.view(batch * tokens, d).index_select(0, headRows));
    }
}

/// <summary>One DiT block: adaLN-modulated attention and MLP branches with gated residuals.</summary>
internal sealed class TorchSharpDitBlock : nn.Module
{
    private readonly DitConfig config;
    private readonly Parameter norm1, norm2;
    private readonly Linear qkv, attentionOut, mlp0, mlp2, ada;

    public TorchSharpDitBlock(DitConfig config) : base("TorchSharpDitBlock")
    {
        this.config = config;
        int d = config.Hidden;
        norm1 = nn.Parameter(torch.ones(d));
        norm2 = nn.Parameter(torch.ones(d));
        qkv = nn.Linear(d, 3 * d, hasBias: false);
        attentionOut = nn.Linear(d, d, hasBias: false);
        mlp0 = nn.Linear(d, config.MlpHidden);
        mlp2 = nn.Linear(config.MlpHidden, d);
        ada = nn.Linear(config.CondDim, 6 * d);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor condition, Tensor cos, Tensor sin, bool training)
    {
        long batch = x.shape[0], tokens = x.shape[1];
        int d = config.Hidden, heads = config.Heads, headDim = config.HeadDim;
        var m = ada.forward(condition).chunk(6, -1);   // shift1, scale1, gate1, shift2, scale2, gate2: [1, D] each
        var h = F.layer_norm(x, [d], null, null, DitConfig.LayerNormEpsilon) * norm1;
        h = h * (1 + m[1]) + m[0];
        var packed = qkv.forward(h).view(batch, tokens, 3, heads, headDim).permute(2, 0, 3, 1, 4);   // [3, B, H, L, hd]
        var q = Rotate(packed[0], cos, sin);
        var k = Rotate(packed[1], cos, sin);
        var attention = F.scaled_dot_product_attention(q, k, packed[2], null, 0.0, false)
            .transpose(1, 2).reshape(batch, tokens, d);
        x = x + m[2] * F.dropout(attentionOut.forward(attention), config.Dropout, training, false);
        h = F.layer_norm(x, [d], null, null, DitConfig.LayerNormEpsilon) * norm2;
        h = h * (1 + m[4]) + m[3];
        var mlp = mlp2.forward(F.gelu(mlp0.forward(h), GELU.Approximate.tanh, false));
        return x + m[5] * F.dropout(mlp, config.Dropout, training, false);
    }

    /// <summary>Rotate-half rotary on [B, H, L, hd] with tables [L, hd/2].</summary>
    private static Tensor Rotate(Tensor u, Tensor cos, Tensor sin)
    {
        var halves = u.chunk(2, -1);
        return torch.cat([halves[0] * cos - halves[1] * sin, halves[0] * sin + halves[1] * cos], -1);
    }
}

/// <summary>
/// One MDLM training step of <see cref="TorchSharpDit"/>, mirroring <see cref="Training.MdlmTrainer.TrainStep"/>: the
/// same batches, times and masks (our host-side <see cref="Data.Batcher"/>, <see cref="Diffusion.TimeSampler"/> and
/// <see cref="Diffusion.MaskedDiffusion"/>), SUBS cross-entropy weighted 1/t over the masked rows divided by B·L,
/// backward, clip_grad_norm_ 1.0, torch.optim.AdamW (lr 3e-4), EMA update. libtorch runs on 2 threads.
/// </summary>
internal sealed class TorchSharpTrainingStep : IDisposable
{
    private readonly TorchSharpDit model;
    private readonly Data.Batcher batcher;
    private readonly Diffusion.CorruptedBatch batch;
    private readonly Diffusion.MaskedDiffusion diffusion;
    private readonly int[] clean;
    private readonly Parameter[] parameters;
    private readonly Tensor[] ema;
    private readonly optim.Optimizer optimizer;
    private readonly Tensor maskBias;
    private ulong step;

    public TorchSharpTrainingStep(DitConfig config, Data.TokenShardSet data, int batchSize)
    {
        torch.set_num_threads(2);
        torch.manual_seed(1);
        model = new TorchSharpDit(config);
        batcher = new Data.Batcher(data, batchSize, seed: 1);
        batch = new Diffusion.CorruptedBatch(batchSize, data.SequenceLength);
        diffusion = new Diffusion.MaskedDiffusion(Diffusion.NoiseSchedule.LogLinear, config.MaskIndex);
        clean = new int[batch.Elements];
        parameters = model.parameters().ToArray();
        using (torch.no_grad()) ema = parameters.Select(p => p.detach().clone()).ToArray();
        optimizer = optim.AdamW(parameters, lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0);
        maskBias = torch.zeros(config.Vocab);
        maskBias[config.MaskIndex] = torch.tensor(-1e6f);
    }

    /// <summary>Takes one step and returns the loss.</summary>
    public double Step()
    {
        using var scope = torch.NewDisposeScope();
        batcher.NextBatch(clean);
        Diffusion.TimeSampler.Mdlm.Sample(1, step, batch.Times);
        diffusion.Corrupt(clean, 2, step++, batch);
        int masked = batch.MaskedCount;
        var ids = torch.tensor(Array.ConvertAll(batch.NoisyIds, id => (long)id), [batch.BatchSize, batch.SequenceLength]);
        var rows = torch.tensor(Array.ConvertAll(batch.MaskedRows[..masked], r => (long)r));
        var targets = torch.tensor(Array.ConvertAll(batch.Targets[..masked], t => (long)t));
        var weights = torch.tensor(batch.Weights[..masked]);

        optimizer.zero_grad();
        var logProbs = F.log_softmax(model.Forward(ids, rows, training: true) + maskBias, 1);
        var nll = -logProbs.gather(1, targets.unsqueeze(1)).squeeze(1);
        var loss = (nll * weights).sum() / batch.Elements;
        loss.backward();
        nn.utils.clip_grad_norm_(parameters, 1.0, 2.0);
        optimizer.step();
        using (torch.no_grad())
            for (int i = 0; i < parameters.Length; i++) ema[i].mul_(0.9999).add_(parameters[i], alpha: 1 - 0.9999);
        return loss.item<float>();
    }

    public void Dispose()
    {
        optimizer.Dispose();
        foreach (var e in ema) e.Dispose();
        maskBias.Dispose();
        model.Dispose();
    }
}
