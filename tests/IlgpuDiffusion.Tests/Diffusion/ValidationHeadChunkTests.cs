using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Distillation;
using IlgpuDiffusion.Tests.Training;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Diffusion;

[Collection(ConformanceCollection.Name)]
public sealed class ValidationHeadChunkTests
{
    [Fact]
    public void Validation_in_small_head_chunks_equals_one_chunk_per_batch()
    {
        // 10 sequences in batches of 4 (a remainder of 2); trained weights, so every row's logits differ.
        using var data = new TinyTraining(validationSequences: 10);
        using var model = TinyDistillation.Teacher();
        using var whole = new ValidationPerplexity(TinyModels.TrainingDit, model.Device, data.Validation, 4, seed: 5, 0, null);
        using var chunked = new ValidationPerplexity(TinyModels.TrainingDit, model.Device, data.Validation, 4, seed: 5, 0, 3);
        ValidationMetrics expected = whole.Evaluate(model.Parameters.All, 0), actual = chunked.Evaluate(model.Parameters.All, 0);
        Assert.Equal(expected.Tokens, actual.Tokens);
        Assert.True(Math.Abs(actual.Nelbo - expected.Nelbo) <= 1e-12 * expected.Nelbo, $"NELBO {actual.Nelbo} vs {expected.Nelbo}");
    }

    [Fact]
    public void Validation_logits_do_not_grow_with_the_batch()
    {
        // The GPT-2 vocabulary with MASK: a row of logits takes 196 KiB. Batches of 24 and 48 sequences of 16 tokens are 384
        // and 768 rows; what may grow with the batch is the rows' C-wide activations and ids, while [rows, V] logits would
        // add 74 MiB.
        using var data = new TinyTraining(validationSequences: 48);
        DitConfig wide = TinyModels.TrainingDit with { Vocab = 50_258 };
        long Bytes(int batch)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            using var validation = new ValidationPerplexity(wide, TinyModels.Cpu, data.Validation, batch, seed: 5);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
        long small = Bytes(24), large = Bytes(48);
        Assert.True(large - small < 8 << 20, $"validation in batches of 48 allocates {(large - small) / (1 << 20)} MiB more than of 24");
    }
}
