using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;

namespace IlgpuDiffusion.Tests.Distillation;

[Collection(ConformanceCollection.Name)]
public sealed class TeacherTargetsTests
{
    // Eight classes, MASK last, in rows padded to twelve columns as a padded head's are.
    private const int Mask = 7, Classes = 12;
    private static readonly HeadLayout Head = new(Mask + 1, Classes);
    private const ulong RevealSeed = 11, DrawSeed = 12, Stream = 5;

    private static Device Cpu => TinyModels.Cpu;

    private static CorruptedBatch Corrupt(int batch, int tokens, double[] times, int seed)
    {
        var random = new Random(seed);
        int[] clean = Enumerable.Range(0, batch * tokens).Select(_ => random.Next(Mask)).ToArray();
        var corrupted = new CorruptedBatch(batch, tokens);
        times.CopyTo(corrupted.Times, 0);
        new MaskedDiffusion(NoiseSchedule.LogLinear, Mask).Corrupt(clean, (ulong)seed, 0, corrupted);
        return corrupted;
    }

    /// <summary>Plans the targets of <paramref name="z"/> and computes every chunk; returns the log-probs in target order.</summary>
    private static float[] Build(TeacherTargets targets, ITeacher teacher, CorruptedBatch z, double delta, bool compat)
    {
        targets.Plan(z, delta, compat, RevealSeed, DrawSeed, Stream);
        var logProbs = new List<float>();
        while (targets.NextChunk(teacher, out TargetChunk chunk))
        {
            Assert.Equal(logProbs.Count / targets.Head.Width, chunk.First);
            Assert.InRange(chunk.Count, 1, targets.ChunkRows);
            Assert.Equal(targets.HostRows[chunk.First..(chunk.First + chunk.Count)].ToArray(), chunk.Rows.ToArray());
            logProbs.AddRange(chunk.LogProbs.ToArray());
        }
        Assert.Equal(targets.Count * targets.Head.Width, logProbs.Count);
        return logProbs.ToArray();
    }

    private static CorruptedBatch AllMasked(int batch, int tokens, double time)
    {
        var corrupted = new CorruptedBatch(batch, tokens);
        Array.Fill(corrupted.Times, time);
        Array.Fill(corrupted.NoisyIds, Mask);
        for (int p = 0; p < corrupted.Elements; p++) corrupted.MaskedRows[p] = p;
        corrupted.MaskedCount = corrupted.Elements;
        return corrupted;
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(2, true)]
    [InlineData(3, false)]
    [InlineData(3, true)]
    public void A_position_revealed_at_teacher_step_j_gets_the_teacher_prediction_on_the_state_before_step_j(int steps, bool compat)
    {
        const int batch = 4, tokens = 16;
        const double delta = 1.0 / 8;
        CorruptedBatch z = Corrupt(batch, tokens, [0.3, 0.6, 0.9, 0.45], seed: 3);
        var teacher = new ToyTeacher(Head, tokens);
        using var targets = new TeacherTargets(Cpu, batch, tokens, Head, steps, chunkRows: batch * tokens);
        float[] logProbs = Build(targets, teacher, z, delta, compat);

        Assert.Equal(z.MaskedCount, targets.Count);
        Assert.Equal(z.MaskedRows.Take(z.MaskedCount).Order(), targets.HostRows.ToArray().Order());
        Assert.Equal(targets.HostRows.ToArray(), targets.Rows.Slice(0, targets.Count).ToArray());
        Assert.Equal(targets.Count, targets.TargetsPerStep.ToArray().Sum());
        Assert.Equal(targets.TargetsPerStep.ToArray().Where(c => c > 0), teacher.RowsPerPass); // a step that fixes no target runs no pass
        if (steps > 1) Assert.InRange(targets.TargetsPerStep[0], 1, targets.Count - 1);        // both kinds of rows occur

        int[] final = targets.FinalIds.ToArray();
        int[] rows = targets.HostRows.ToArray();
        int start = 0;
        for (int step = 0; step < steps; step++)
        {
            int count = targets.TargetsPerStep[step];
            // The state before this step: z_t plus the tokens of earlier steps, i.e. the final state with later reveals undone.
            int[] state = (int[])final.Clone();
            for (int i = start; i < targets.Count - targets.TargetsPerStep[steps - 1]; i++) state[rows[i]] = Mask;
            ulong stepStream = Stream * (ulong)steps + (ulong)step;
            var group = rows[start..(start + count)];
            Assert.Equal(group.Order(), group); // ascending within a step
            for (int i = 0; i < count; i++)
            {
                int row = rows[start + i];
                Assert.Equal(Mask, state[row]);
                float[] expected = teacher.Expected(state, row);
                Assert.Equal(expected, logProbs[((start + i) * Classes)..((start + i + 1) * Classes)]);
                if (step < steps - 1)
                    Assert.Equal(ReferenceLosses.Sample(Array.ConvertAll(expected, v => (double)v), i, Mask,
                        new SamplingParameters(DrawSeed, stepStream)), final[row]);
                else
                    Assert.Equal(Mask, final[row]);
            }
            if (step < steps - 1)
            {
                // Reveal decisions: every position masked before the step is revealed iff its uniform < Δ/t_step.
                var pending = Enumerable.Range(0, state.Length).Where(p => state[p] == Mask);
                var revealed = pending.Where(p => Philox.UniformDouble(RevealSeed, stepStream, p) <
                    TeacherTimeGrid.RevealProbability(TeacherTimeGrid.Time(z.Times[p / tokens], delta, step, steps, compat), delta));
                Assert.Equal(revealed, group);
            }
            start += count;
        }
        for (int p = 0; p < final.Length; p++)
            if (z.NoisyIds[p] != Mask) Assert.Equal(z.NoisyIds[p], final[p]); // clean tokens are carried over
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    public void Targets_and_draws_are_the_same_at_every_chunk_size(int chunkRows)
    {
        const int batch = 4, tokens = 16, steps = 3;
        const double delta = 1.0 / 8;
        CorruptedBatch z = Corrupt(batch, tokens, [0.3, 0.6, 0.9, 0.45], seed: 3);
        using var whole = new TeacherTargets(Cpu, batch, tokens, Head, steps, chunkRows: batch * tokens);
        using var chunked = new TeacherTargets(Cpu, batch, tokens, Head, steps, chunkRows);
        var teacher = new ToyTeacher(Head, tokens);
        float[] expected = Build(whole, teacher, z, delta, compat: false);
        var chunkedTeacher = new ToyTeacher(Head, tokens);
        Assert.Equal(expected, Build(chunked, chunkedTeacher, z, delta, compat: false));
        Assert.Equal(whole.HostRows.ToArray(), chunked.HostRows.ToArray());
        Assert.Equal(whole.FinalIds.ToArray(), chunked.FinalIds.ToArray());
        Assert.Equal(teacher.RowsPerPass, chunkedTeacher.RowsPerPass); // one teacher pass per step, whatever the chunks
        Assert.Equal(new Shape(chunkRows, Classes), chunked.LogProbs.Shape);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_first_step_reveals_a_fraction_delta_over_t0_of_the_masked_positions(bool compat)
    {
        const int batch = 256, tokens = 128, n = batch * tokens;
        const double t = 0.5, delta = 1.0 / 32;
        using var targets = new TeacherTargets(Cpu, batch, tokens, Head, teacherSteps: 2, chunkRows: 64);
        targets.Plan(AllMasked(batch, tokens, t), delta, compat, RevealSeed, DrawSeed, Stream); // reveals are decided up front
        // Paper: t_0 = t, fraction Δ/t = 0.0625. Released code: t_0 = t + (1−t)(t − 2Δ) = 0.71875, fraction ≈ 0.0435.
        double p = delta / (compat ? t + (1 - t) * (t - 2 * delta) : t);
        double sd = Math.Sqrt(n * p * (1 - p));
        Assert.InRange(targets.TargetsPerStep[0], n * p - 5 * sd, n * p + 5 * sd);
        Assert.Equal(n, targets.Count);
    }

    [Fact]
    public void A_step_that_reaches_past_time_zero_reveals_every_masked_position()
    {
        const int batch = 2, tokens = 16;
        var teacher = new ToyTeacher(Head, tokens);
        using var targets = new TeacherTargets(Cpu, batch, tokens, Head, teacherSteps: 2, chunkRows: 5);
        Build(targets, teacher, AllMasked(batch, tokens, time: 0.01), delta: 0.02, compat: false);
        Assert.Equal([batch * tokens, 0], targets.TargetsPerStep.ToArray());
        Assert.Equal([batch * tokens], teacher.RowsPerPass);
        Assert.All(targets.FinalIds.ToArray(), id => Assert.InRange(id, 0, Mask - 1)); // neither MASK nor padding
    }

    [Fact]
    public void Mismatched_batches_and_teachers_are_refused()
    {
        using var targets = new TeacherTargets(Cpu, 2, 16, Head, teacherSteps: 2, chunkRows: 8);
        var wrongBatch = Assert.Throws<ArgumentException>(() =>
            targets.Plan(AllMasked(4, 8, 0.5), 0.1, false, RevealSeed, DrawSeed, Stream));
        Assert.Contains("sized for 2 × 16", wrongBatch.Message);
        targets.Plan(AllMasked(2, 16, 0.5), 0.1, false, RevealSeed, DrawSeed, Stream);
        var wrongTeacher = Assert.Throws<ArgumentException>(() =>
            targets.NextChunk(new ToyTeacher(Head with { Width = Classes + 4 }, 16), out _));
        Assert.Contains("head", wrongTeacher.Message);
    }
}
