using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Distillation;

[Collection(ConformanceCollection.Name)]
public sealed class DistillationHeadChunkTests
{
    [Fact]
    public void Steps_in_small_head_chunks_equal_steps_in_one_chunk_per_teacher_step()
    {
        // Four steps with dropout, the fourth after the round's end made the student the teacher. Per-row targets, draws and
        // divergences are the same; only the head's weight gradient is summed in another order.
        using var data = new TinyTraining();
        using var teacher = TinyDistillation.Teacher();
        using var whole = new SdttDistiller(teacher, data.Train, TinyDistillation.Config, headChunkRows: null);
        using var chunked = new SdttDistiller(teacher, data.Train, TinyDistillation.Config, headChunkRows: 3);
        Assert.Equal(TinyTraining.Config.BatchSize * TinyModels.Length, whole.HeadChunkRows);
        Assert.Equal(3, chunked.HeadChunkRows);
        for (int step = 0; step < 4; step++)
        {
            DistillationStepResult expected = whole.TrainStep(), actual = chunked.TrainStep();
            Assert.Equal(whole.Targets.FinalIds.ToArray(), chunked.Targets.FinalIds.ToArray());
            Assert.True(Math.Abs(actual.Loss - expected.Loss) <= 1e-6 * expected.Loss, $"step {step}: {actual.Loss} vs {expected.Loss}");
            Assert.True(Math.Abs(actual.GradientNorm - expected.GradientNorm) <= 1e-5 * expected.GradientNorm,
                $"step {step}: gradient norm {actual.GradientNorm} vs {expected.GradientNorm}");
        }
        Numerics.AssertClose(Array.ConvertAll(whole.Student.Parameters.All.ToArray(), v => (double)v),
            chunked.Student.Parameters.All.ToArray(), 1e-5, "student weights");
    }

    /// <summary>
    /// Padding the student's head rows (<see cref="TargetChunk.HeadRows"/>: the rows after a chunk's, then unmasked
    /// positions, their gradients zeroed) leaves every loss, gradient norm, teacher draw and weight as it was, bit for bit:
    /// chunks of 3 padded to 4 and 16, whole teacher steps padded to 16 and to every position (B·L is 64). Rounds of one
    /// step, so the second step's teacher is the student the first one trained. ILGPU's CPU emulator, whose steps take
    /// seconds, runs the padded chunks only: which rows pad is the distiller's, the same on every backend, and its kernels
    /// meet the padded rows the same way in a chunk as in a whole step.
    /// </summary>
    [SkippableTheory]
    [InlineData("cpu", 3, 4)]
    [InlineData("cpu", 3, 16)]
    [InlineData("cpu", null, 16)]
    [InlineData("cpu", null, 128)]
    [InlineData("ilgpu-cpu", 3, 16)]
    public void Padded_head_rows_change_nothing_of_a_distillation_step(string backend, int? chunkRows, int multiple)
    {
        using var data = new TinyTraining();
        using var teacher = TinyDistillation.Teacher(TestBackends.Get(backend));
        var config = TinyDistillation.Config with { StepsPerRound = 1 };
        using var plain = new SdttDistiller(teacher, data.Train, config, chunkRows, headRowMultiple: 1);
        using var padded = new SdttDistiller(teacher, data.Train, config, chunkRows, headRowMultiple: multiple);
        for (int step = 0; step < 2; step++)
        {
            DistillationStepResult expected = plain.TrainStep(), actual = padded.TrainStep();
            Assert.Equal(expected, actual);
            Assert.Equal(plain.Targets.FinalIds.ToArray(), padded.Targets.FinalIds.ToArray());
        }
        Assert.Equal(plain.Student.Parameters.All.ToArray(), padded.Student.Parameters.All.ToArray());
    }

    /// <summary>The GPT-2 vocabulary with MASK: a row of logits takes 196 KiB, so a 64 MiB head chunk holds 333 rows.</summary>
    private const int WideVocab = 50_258;

    /// <summary>Bytes the CPU backend (managed arrays) allocates for a distiller of the wide model at <paramref name="batch"/>.</summary>
    private static long DistillerBytes(TinyTraining data, int batch)
    {
        using var initial = new Dit(TinyModels.TrainingDit with { Vocab = WideVocab }, TinyModels.Cpu, withGradients: false);
        var config = TinyDistillation.Config with { Training = TinyDistillation.Config.Training with { BatchSize = batch } };
        long before = GC.GetAllocatedBytesForCurrentThread();
        using var distiller = new SdttDistiller(initial, data.Train, config);
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void Vocabulary_wide_buffers_do_not_grow_with_the_batch()
    {
        // Batches of 24 and 48 sequences of 16 tokens: 384 and 768 rows, both more than a head chunk. What may grow with the
        // batch is the rows' C-wide activations and their ids; every [rows, V] buffer would add 74 MiB.
        using var data = new TinyTraining();
        long small = DistillerBytes(data, 24), large = DistillerBytes(data, 48);
        Assert.True(large - small < 8 << 20,
            $"a distiller of 48 sequences allocates {(large - small) / (1 << 20)} MiB more than one of 24");
    }
}
