using System.Runtime.InteropServices;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Ilgpu.Kernels;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using Device = IlgpuDiffusion.Compute.Device;

namespace IlgpuDiffusion.Tests.Ilgpu;

/// <summary>
/// Attention on tensor cores under the tf32 and bf16 precisions without a GPU (the flash kernels for heads of up to 64
/// columns, the flash forwards and backwards for heads of 72 to 128, materialized scores on the tensor-core GEMMs for other
/// heads): the whole kernels on ILGPU's CPU accelerator
/// with warps of 32, mma.sync emulated, against the double reference of inputs rounded to TF32 as the kernels stage them
/// (what remains is the rounding of the probabilities and fp32 sums). Shapes cross the 64- and 128-query and 32-key tiles; both
/// masks; heads of 64 and narrower ones, padded with zero columns; wider heads and heads of 12; the KV-cache decode step;
/// the backward's passes; repeatability. The cuda-tf32 and cuda-bf16 rows run the same checks with the
/// instructions themselves, on a machine with a GPU (else they skip).
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class TensorCoreAttentionTests(TensorCoreGemmTests.Emulator emulator)
{
    private const int HeadDim = AttentionFragments.HeadWidth;

    /// <summary>Row, batch, tokens, heads, head size, causal.</summary>
    public static TheoryData<string, int, int, int, int, bool> Shapes()
    {
        var data = new TheoryData<string, int, int, int, int, bool>();
        foreach (string row in new[] { "emulated", "emulated-bf16", "cuda-tf32", "cuda-bf16" })
        {
            data.Add(row, 1, 70, 2, HeadDim, false);
            data.Add(row, 1, 70, 2, HeadDim, true);
            data.Add(row, 2, 33, 1, HeadDim, true);
            data.Add(row, 1, 5, 1, HeadDim, false);
            data.Add(row, 1, 9, 2, 16, true); // narrower heads: zero columns staged after theirs, none written
            data.Add(row, 2, 33, 3, 32, true);
            data.Add(row, 1, 9, 4, 8, false);
            // Wide heads: the forward and the backward on the wide-head flash kernels (the key passes opt in to 71 KB and
            // 54 KB of shared memory on a GPU).
            data.Add(row, 2, 33, 3, 96, false);
            data.Add(row, 1, 9, 1, 128, true);
            data.Add(row, 1, 70, 1, 104, true); // three tiles each way, causal
            data.Add(row, 1, 70, 1, 96, true); // whole tiles of 32 and 64 (16-byte loads, the columns past 96 left unstaged)
            data.Add(row, 1, 70, 1, 128, false); // a whole key tile of 64 (BF16: staged with 16-byte loads), then an edge
            data.Add(row, 1, 70, 2, 12, true); // over materialized scores both ways
            data.Add(row, 2, 1, 2, 72, true); // one token: score rows of 4, three of them padding
            if (row.StartsWith("emulated", StringComparison.Ordinal)) continue;
            data.Add(row, 2, 300, 3, HeadDim, false); // several tiles each way, on the GPU only
            data.Add(row, 1, 257, 2, HeadDim, true);
            data.Add(row, 2, 200, 3, 40, true);
            data.Add(row, 2, 300, 3, 128, true);
            data.Add(row, 1, 130, 2, 100, false);
        }
        return data;
    }

    /// <summary>
    /// The fragments that ldmatrix gives each lane on CUDA (<see cref="LaneMatrices"/>; emulated from the PTX ISA's
    /// definition, <see cref="LdmatrixEmulation"/>) are the ones the word-by-word loads give elsewhere: A fragments and pairs of B
    /// fragments at the strides the kernels use (BF16 head rows of 36 words, wide ones of 68; TF32 head rows of 68, slabs of
    /// 36), for each k step, from rows that start where the kernels' tiles do; aligned and free of bank conflicts.
    /// </summary>
    [Theory]
    [InlineData(true, 36, 4 * 36, 4)]
    [InlineData(true, 68, 2 * 32 * 68, 8)] // the wide BF16 key pass's Q, after its K and V
    [InlineData(false, AttentionFragments.HeadStride, 2 * 32 * AttentionFragments.HeadStride, 8)]
    [InlineData(false, AttentionFragments.SlabStride, 4 * 32 * AttentionFragments.HeadStride + 64 + AttentionFragments.Slab, 4)] // dSᵀ
    public void Ldmatrix_rows_give_the_fragments(bool bf16, int stride, int rows, int steps)
    {
        const int lines = 32;
        var halves = new uint[2 * (rows + lines * stride)];
        for (int i = 0; i < halves.Length; i++) halves[i] = (uint)i & 0xFFFF; // each half holds its own place
        for (int step = 0; step < steps; step++)
            foreach (bool b in new[] { false, true })
                for (int line = 0; line < (b ? lines : 16); line += 16)
                {
                    int k = 8 * step; // words: a BF16 chunk of 16 k, or a TF32 step of 8 k
                    int RowWord(int lane) => b
                        ? new LaneMatrices(lane).BWord(rows + line * stride + k, stride)
                        : new LaneMatrices(lane).AWord(rows + line * stride + k, stride);
                    LdmatrixEmulation.AssertAlignedWithoutBankConflicts(RowWord);
                    for (int lane = 0; lane < Mma.WarpLanes; lane++)
                    {
                        // The byte address the kernels hand ldmatrix (shared base 0 off CUDA), also as the first step's
                        // address and k's bytes on, as the BF16 key pass keeps it.
                        var matrices = new LaneMatrices(lane);
                        int first = rows + line * stride + k;
                        uint address = b ? matrices.BAddress(first, stride) : matrices.AAddress(first, stride);
                        Assert.Equal(4u * (uint)RowWord(lane), address);
                        if (!b) Assert.Equal(address, matrices.AAddress(first - k, stride) + 4u * (uint)k);
                        uint[] registers = LdmatrixEmulation.Load(halves, RowWord, lane, transposed: false);
                        for (int r = 0; r < 4; r++)
                        {
                            // The word a word-by-word load reads: A (row, k) as MmaA documents, BF16 k in pairs; B0, B1 of
                            // lines line + g, then of line + 8 + g.
                            int word = b
                                ? rows + (line + 8 * (r >> 1) + Mma.BColumn(lane)) * stride + k
                                    + (bf16 ? Mma.Bf16BK(lane, r & 1) / 2 : Mma.Tf32BK(lane, r & 1))
                                : rows + (line + Mma.ARow(lane, r)) * stride + k + (bf16 ? Mma.Bf16AK(lane, r) / 2 : Mma.Tf32AK(lane, r));
                            uint expected = (uint)(2 * word) & 0xFFFF | ((uint)(2 * word + 1) & 0xFFFF) << 16;
                            Assert.True(expected == registers[r], $"lane {lane} register {r} (b {b}, step {step}, line {line})");
                        }
                    }
                }
    }

    /// <summary>
    /// The BF16 dq pass's dS fragments: dSᵀ staged as the key pass leaves it (key rows of query pair words, 36 words apart
    /// for heads of 64, 20 for narrower ones) and loaded by a transposed ldmatrix at the addresses of two B fragments
    /// (<see cref="LaneMatrices.BAddress"/>) give each lane the A fragment of dS (rows queries, pairs along the keys, as
    /// <see cref="MmaA"/> documents) for each warp's 16 queries and each chunk of 16 keys; aligned, no bank conflict.
    /// </summary>
    [Theory]
    [InlineData(36, 4)]
    [InlineData(20, 2)]
    public void A_transposed_ldmatrix_gives_dS_from_the_staged_pairs_of_dS_transposed(int stride, int warps)
    {
        var halves = new uint[2 * 32 * stride];
        for (int i = 0; i < halves.Length; i++) halves[i] = (uint)i & 0xFFFF; // each half holds its own place
        for (int warp = 0; warp < warps; warp++)
            for (int c = 0; c < 2; c++)
            {
                int first = 8 * warp + 16 * c * stride; // the warp's first query pair, the chunk's first key
                int RowWord(int lane) => new LaneMatrices(lane).BWord(first, stride);
                LdmatrixEmulation.AssertAlignedWithoutBankConflicts(RowWord);
                for (int lane = 0; lane < Mma.WarpLanes; lane++)
                {
                    Assert.Equal(4u * (uint)RowWord(lane), new LaneMatrices(lane).BAddress(first, stride));
                    uint[] registers = LdmatrixEmulation.Load(halves, RowWord, lane, transposed: true);
                    for (int r = 0; r < 4; r++)
                    {
                        // dS (query, key) is the half of query q in key row k: word k·stride + q / 2, the odd query high.
                        int query = Mma.ARow(lane, r), key = Mma.Bf16AK(lane, r);
                        int Half(int k) => 2 * (first + k * stride + query / 2) + (query & 1);
                        uint expected = (uint)Half(key) & 0xFFFF | ((uint)Half(key + 1) & 0xFFFF) << 16;
                        Assert.True(expected == registers[r], $"lane {lane} register {r} (warp {warp}, chunk {c})");
                    }
                }
            }
    }

    /// <summary>
    /// The B fragments the BF16 backward's dk, dv and dq products take from pair rows along the head (Q, dO or k staged
    /// once, as the scores read them): a transposed ldmatrix at the addresses of an A fragment
    /// (<see cref="LaneMatrices.LoadBFromRows"/>) gives each lane, as <see cref="LoadedMatrices.B"/> splits its registers,
    /// the B fragments of head columns 2w.. and 2w + 8.. (pairs along the rows, as <see cref="MmaB"/> documents) for each
    /// chunk of 16 rows; aligned, no bank conflict. Heads of 64 (rows of 36 words, after the Q tile or 64 queries' dS) and
    /// wide heads (68, after three tiles).
    /// </summary>
    [Theory]
    [InlineData(36, 0, 64)]
    [InlineData(36, 32 * 36, 64)]
    [InlineData(68, 3 * 32 * 68, 128)]
    public void A_transposed_ldmatrix_gives_B_fragments_from_pair_rows_along_the_head(int stride, int rows, int columns)
    {
        var halves = new uint[2 * (rows + 32 * stride)];
        for (int i = 0; i < halves.Length; i++) halves[i] = (uint)i & 0xFFFF; // each half holds its own place
        for (int c = 0; c < 2; c++)
            for (int word = 0; word < columns / 2; word += 8) // two fragments of 8 columns: 8 pair words
            {
                int first = rows + 16 * c * stride + word;
                int RowWord(int lane) => new LaneMatrices(lane).AWord(first, stride);
                LdmatrixEmulation.AssertAlignedWithoutBankConflicts(RowWord);
                for (int lane = 0; lane < Mma.WarpLanes; lane++)
                {
                    Assert.Equal(4u * (uint)RowWord(lane), new LaneMatrices(lane).AAddress(first, stride));
                    uint[] registers = LdmatrixEmulation.Load(halves, RowWord, lane, transposed: true);
                    var loaded = new LoadedMatrices { R0 = registers[0], R1 = registers[1], R2 = registers[2], R3 = registers[3] };
                    var (low, high) = loaded.B;
                    uint[] fragments = [low.B0, low.B1, high.B0, high.B1];
                    for (int r = 0; r < 4; r++)
                    {
                        // Element (row k, column n) is half n mod 2 of row k's word n / 2.
                        int column = 2 * word + 8 * (r >> 1) + Mma.BColumn(lane), k = 16 * c + Mma.Bf16BK(lane, r & 1);
                        int Half(int row) => 2 * (rows + row * stride + column / 2) + (column & 1);
                        uint expected = (uint)Half(k) & 0xFFFF | ((uint)Half(k + 1) & 0xFFFF) << 16;
                        Assert.True(expected == fragments[r], $"lane {lane} register {r} (chunk {c}, word {word})");
                    }
                }
            }
    }

    /// <summary>
    /// <see cref="Shapes"/> and query blocks the forwards walk in two loops: first the key tiles every query of the block
    /// sees whole (no masking), then the rest; BF16 heads of 64 in blocks of 128 queries, where on a causal diagonal each
    /// warp skips the tiles past its rows.
    /// </summary>
    public static TheoryData<string, int, int, int, int, bool> ForwardShapes()
    {
        var data = Shapes();
        foreach (string row in new[] { "emulated", "emulated-bf16", "cuda-tf32", "cuda-bf16" })
        {
            if (Bf16(row)) data.Add(row, 1, 130, 1, HeadDim, false);
            data.Add(row, 1, 260, 1, HeadDim, true);
            if (Bf16(row)) data.Add(row, 1, 200, 1, 96, true); // the wide-head BF16 forward
        }
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(ForwardShapes))]
    public void Forward_matches_the_reference_of_rounded_inputs(string row, int batch, int tokens, int heads, int headDim, bool causal)
    {
        TestBackends.SkipEmulationWhereCudaRuns(row);
        Device device = Get(row);
        var qkv = TestData.Random(batch * tokens * 3 * heads * headDim, seed: tokens, scale: 2f);
        var (output, lse) = Forward(device, qkv, batch, tokens, heads, headDim, causal);
        var expected = ReferenceAttention.Forward(Rounded(qkv, row), batch, tokens, heads, headDim, causal);
        TestData.Close(expected.Output, output, Bf16(row) ? 4e-3 : 1e-3); // what is left: P's rounding for P·V
        // Sums of unrounded probabilities: the log-sum-exp is fp32-exact for the rounded inputs (fp32 inputs would be 5e-4 off
        // TF32's, 4e-3 off BF16's; a GPU's approximate exp and log add a few ulps).
        TestData.Close(expected.LogSumExp, lse, row.StartsWith("emulated", StringComparison.Ordinal) ? 1e-5 : 1e-4);
    }

    /// <summary>
    /// The BF16 attention of heads of 64 whose forward copies its key tiles, and whose key pass its query tiles, through
    /// cp.async packs the words the kernels that stage through registers stage, so its outputs, log-sum-exps and gradients
    /// are theirs bit for bit: whole tiles and edges (rows past the sequence are cp.async's zero fill), a partial query block
    /// of the forward, causal, with warps that skip tiles past their rows; two batches of two heads whose one tile is an
    /// edge. The device takes them only where asked. The cuda rows compare the cuda-bf16 device with cuda-bf16-pipelined,
    /// whose attention copies its tiles so on a GPU, on more tiles.
    /// </summary>
    [SkippableTheory]
    [InlineData("emulated", 1, 70, 1, true)]
    [InlineData("emulated", 2, 33, 2, false)]
    [InlineData("cuda", 1, 130, 1, true)]
    [InlineData("cuda", 2, 300, 3, false)]
    public void Bf16_attention_on_tiles_copied_by_cp_async_gives_the_staged_kernels_results_bit_for_bit(string row, int batch,
        int tokens, int heads, bool causal)
    {
        TestBackends.SkipEmulationWhereCudaRuns(row);
        var (staged, pipelined) = row == "cuda"
            ? ((IlgpuDevice)TestBackends.Get("cuda-bf16"), (IlgpuDevice)TestBackends.Get("cuda-bf16-pipelined"))
            : ((IlgpuDevice)Get("emulated-bf16"), (IlgpuDevice)Get("emulated-async-bf16"));
        Assert.True(pipelined.PipelinedAttention());
        Assert.False(staged.PipelinedAttention());
        var qkv = TestData.Random(batch * tokens * 3 * heads * HeadDim, seed: tokens + 5, scale: 2f);
        var dy = TestData.Random(batch * tokens * heads * HeadDim, seed: tokens + 6);
        var prior = TestData.Random(qkv.Length, seed: tokens + 7);
        var expected = ForwardAndBackward(staged, qkv, dy, prior, batch, tokens, heads, HeadDim, causal, accumulate: true);
        var actual = ForwardAndBackward(pipelined, qkv, dy, prior, batch, tokens, heads, HeadDim, causal, accumulate: true);
        Assert.Equal(expected.Output, actual.Output);
        Assert.Equal(expected.LogSumExp, actual.LogSumExp);
        Assert.Equal(expected.Gradients, actual.Gradients);
    }

    /// <summary>
    /// <see cref="Shapes"/> and a causal head of 64 over three blocks of 64 queries, the third an edge: the dq pass's keys end
    /// after its block's last query, and on the diagonal a TF32 warp whose queries precede a tile's keys skips it (the TF32
    /// key pass in blocks of 32 leaves those scratch entries unwritten); three blocks of 64 keys too, whose query tiles start
    /// at the block's first key. The "emulated-keys32" row runs heads of 64 on the TF32 key pass in blocks of 32, which
    /// a GPU that refuses the other's shared memory takes. Emulated rows skip where a CUDA device is present
    /// (<see cref="TestBackends.SkipEmulationWhereCudaRuns"/>).
    /// </summary>
    public static TheoryData<string, int, int, int, int, bool> BackwardShapes()
    {
        var data = Shapes();
        foreach (string row in new[] { "emulated", "emulated-bf16", "cuda-tf32", "cuda-bf16" })
            data.Add(row, 1, 130, 1, HeadDim, true);
        data.Add("emulated-keys32", 1, 130, 1, HeadDim, true);
        data.Add("emulated-keys32", 1, 70, 2, HeadDim, false);
        data.Add("emulated-keys32", 2, 33, 1, HeadDim, true);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(BackwardShapes))]
    public void Backward_adds_the_gradient_of_rounded_inputs(string row, int batch, int tokens, int heads, int headDim, bool causal)
    {
        TestBackends.SkipEmulationWhereCudaRuns(row);
        Device device = Get(row);
        var qkv = TestData.Random(batch * tokens * 3 * heads * headDim, seed: tokens + 1, scale: 2f);
        var dy = TestData.Random(batch * tokens * heads * headDim, seed: tokens + 2);
        var prior = TestData.Random(qkv.Length, seed: tokens + 3);
        var dQkv = Backward(device, qkv, dy, prior, batch, tokens, heads, headDim, causal);
        var expected = ReferenceAttention.Backward(Rounded(dy, row), Rounded(qkv, row), batch, tokens, heads, headDim, causal);
        // Under bf16 the forward's output carries P's rounding into D = rowsum(dO ∘ O), and P and dS are rounded as operands:
        // 1.4e-3 measured at heads of 64, 4.8e-3 at heads of 32 (scores scaled by 1/√32, so sharper probabilities).
        TestData.Close(expected.Select((x, i) => x + prior[i]).ToArray(), dQkv, Bf16(row) ? 6e-3 : 1e-3);
    }

    /// <summary>One owner per gradient element and fixed sums: a resumed run on one GPU repeats bit for bit.</summary>
    [Theory]
    [InlineData("emulated-bf16", HeadDim)]
    [InlineData("emulated-bf16", 96)] // the flash kernels for wide heads
    [InlineData("emulated", 96)]
    [InlineData("emulated", 12)] // over materialized scores
    public void Backward_repeats_bit_for_bit(string row, int headDim)
    {
        Device device = Get(row);
        var qkv = TestData.Random(40 * 3 * headDim, seed: 7, scale: 2f);
        var dy = TestData.Random(40 * headDim, seed: 8);
        var first = Backward(device, qkv, dy, new float[qkv.Length], 1, 40, 1, headDim, causal: true);
        Assert.Equal(first, Backward(device, qkv, dy, new float[qkv.Length], 1, 40, 1, headDim, causal: true));
    }

    /// <summary>
    /// A NaN among a whole key tile's elements reaches every output row of its head under TF32, as in fp32: the 16-byte
    /// staging rounds a quad that holds a NaN with the NaN test. Without it this NaN, whose payload sits in the low bits
    /// alone, would round to +∞, and the queries negative in its column would ignore the key (a score of −∞) and give numbers.
    /// </summary>
    [SkippableTheory]
    [InlineData("emulated", HeadDim)]
    [InlineData("emulated", 96)] // the flash kernels for wide heads
    [InlineData("cuda-tf32", HeadDim)]
    [InlineData("cuda-tf32", 96)]
    public void A_NaN_key_makes_every_output_of_its_head_NaN(string row, int headDim)
    {
        TestBackends.SkipEmulationWhereCudaRuns(row);
        const int tokens = 70, heads = 2;
        var qkv = TestData.Random(tokens * 3 * heads * headDim, seed: 13, scale: 2f);
        // Token 5's key, head 0, column 3, written as bits: a float NaN made from them here came out quiet (0x7FC00001).
        MemoryMarshal.Cast<float, uint>(qkv.AsSpan())[(5 * 3 + 1) * heads * headDim + 3] = 0x7F800001;
        var (output, _) = Forward(Get(row), qkv, 1, tokens, heads, headDim, causal: false);
        for (int t = 0; t < tokens; t++)
        {
            Assert.All(output.AsSpan(2 * t * headDim, headDim).ToArray(), x => Assert.True(float.IsNaN(x)));
            Assert.DoesNotContain(output.AsSpan((2 * t + 1) * headDim, headDim).ToArray(), float.IsNaN);
        }
    }

    /// <summary>Asked not to accumulate, the backward writes dqkv over NaN exactly as it adds it to zeros.</summary>
    [Theory]
    [InlineData(false, HeadDim)]
    [InlineData(true, HeadDim)]
    [InlineData(true, 96)] // the flash kernels for wide heads
    [InlineData(false, 12)] // over materialized scores
    public void Backward_writes_over_its_gradient_when_told_to(bool causal, int headDim)
    {
        Device device = emulator.Get(MatMulPrecision.Tf32, multiprocessors: 4);
        var qkv = TestData.Random(2 * 40 * 3 * headDim, seed: 11, scale: 2f);
        var dy = TestData.Random(2 * 40 * headDim, seed: 12);
        var added = Backward(device, qkv, dy, new float[qkv.Length], 2, 40, 1, headDim, causal);
        var written = Backward(device, qkv, dy, Enumerable.Repeat(float.NaN, qkv.Length).ToArray(), 2, 40, 1, headDim, causal,
            accumulate: false);
        Assert.DoesNotContain(added, float.IsNaN);
        Assert.Equal(added, written);
    }

    /// <summary>
    /// A prefill of 37 tokens, then steps of 1, 2 and 70 (two query tiles, queries starting past the first key tile)
    /// against the cache, match the full causal forward; for heads of 64, narrower ones and wide ones.
    /// </summary>
    [Theory]
    [InlineData("emulated", 2, HeadDim)]
    [InlineData("emulated-bf16", 1, HeadDim)]
    [InlineData("emulated-async-bf16", 1, HeadDim)] // the BF16 forward copying its key tiles through cp.async
    [InlineData("emulated", 3, 24)]
    [InlineData("emulated", 1, 96)]
    [InlineData("emulated-bf16", 1, 80)]
    public void The_cached_decode_step_matches_the_full_causal_forward(string row, int heads, int headDim)
    {
        const int tokens = 110, capacity = 112;
        Device device = Get(row);
        var qkv = TestData.Random(tokens * 3 * heads * headDim, seed: 9, scale: 2f);
        var expected = ReferenceAttention.Forward(Rounded(qkv, row), 1, tokens, heads, headDim, causal: true).Output;
        using var kCache = device.Upload<float>(new float[heads * capacity * headDim], new Shape(heads * capacity * headDim));
        using var vCache = device.Upload<float>(new float[heads * capacity * headDim], new Shape(heads * capacity * headDim));
        int position = 0, stride = 3 * heads * headDim;
        foreach (int n in new[] { 37, 1, 2, 70 })
        {
            using var step = device.Upload<float>(qkv.AsSpan(position * stride, n * stride), new Shape(n * stride));
            using var output = device.Upload<float>(new float[n * heads * headDim], new Shape(n * heads * headDim));
            device.Kernels.AttentionWithCacheForward(step, kCache, vCache, output, 1, n, heads, headDim, position, capacity);
            TestData.Close(expected.AsSpan(position * heads * headDim, n * heads * headDim).ToArray(), output.ToArray(),
                Bf16(row) ? 4e-3 : 1e-3);
            position += n;
        }
    }

    /// <summary>
    /// The KV-cache decode step of heads that no flash kernel takes keeps the fp32 SIMT kernels under tf32 (the
    /// materialized scores serve whole sequences only): it matches the fp32 reference to 1e-5, which TF32 products would
    /// miss. Wide heads (96) run on the tensor cores: they match the reference of TF32-rounded inputs and miss the fp32 one.
    /// </summary>
    [Theory]
    [InlineData(12, false)]
    [InlineData(100, false)]
    [InlineData(96, true)]
    public void The_decode_step_runs_on_tensor_cores_only_where_a_flash_kernel_takes_the_head(int headDim, bool tensorCores)
    {
        Device device = emulator.Get(MatMulPrecision.Tf32, multiprocessors: 4);
        const int tokens = 9;
        var qkv = TestData.Random(tokens * 3 * headDim, seed: 10, scale: 2f);
        using var qkvT = device.Upload<float>(qkv, new Shape(qkv.Length));
        using var kCache = device.Upload<float>(new float[tokens * headDim], new Shape(tokens * headDim));
        using var vCache = device.Upload<float>(new float[tokens * headDim], new Shape(tokens * headDim));
        using var output = device.Upload<float>(new float[tokens * headDim], new Shape(tokens * headDim));
        device.Kernels.AttentionWithCacheForward(qkvT, kCache, vCache, output, 1, tokens, 1, headDim, position: 0, capacity: tokens);
        var exact = ReferenceAttention.Forward(Array.ConvertAll(qkv, v => (double)v), 1, tokens, 1, headDim, causal: true).Output;
        var result = output.ToArray();
        if (!tensorCores)
        {
            TestData.Close(exact, result, 1e-5);
            return;
        }
        TestData.Close(ReferenceAttention.Forward(Rounded(qkv, "emulated"), 1, tokens, 1, headDim, causal: true).Output, result, 1e-3);
        Assert.True(exact.Select((x, i) => Math.Abs(x - result[i])).Max() > 1e-5, "the wide head's step ran in fp32");
    }

    /// <summary>
    /// Which backward the rows above run: the flash kernels for wide heads in both precisions (the emulator grants any
    /// shared memory); those for heads of 64 and narrower are not asked here; materialized scores for heads no kernel takes.
    /// </summary>
    [Theory]
    [InlineData("emulated", 96, true)]
    [InlineData("emulated", 128, true)]
    [InlineData("emulated", 72, true)]
    [InlineData("emulated-bf16", 96, true)]
    [InlineData("emulated-bf16", 120, true)]
    [InlineData("emulated", 100, false)]
    [InlineData("emulated-bf16", 136, false)]
    [InlineData("emulated", 64, false)]
    public void Wide_heads_take_the_flash_backward(string row, int headDim, bool wide) =>
        Assert.Equal(wide, ((IlgpuDevice)Get(row)).WideFlashBackward(headDim));

    /// <summary>
    /// The TF32 key pass of heads of 64 takes blocks of 64 keys where the accelerator grants its 69.3 KB of shared memory
    /// (ILGPU's CPU accelerator has no limit) unless the device's choices say no; a BF16 device has its own key pass.
    /// </summary>
    [Theory]
    [InlineData("emulated", true)]
    [InlineData("emulated-keys32", false)]
    [InlineData("emulated-bf16", false)]
    public void The_tf32_key_pass_takes_blocks_of_64_keys_where_granted(string row, bool blocks) =>
        Assert.Equal(blocks, ((IlgpuDevice)Get(row)).Tf32KeyBlocks());

    /// <summary>
    /// An emulated TF32 (its key pass in blocks of 32 keys for "emulated-keys32") or BF16 device, or a cuda row's (skipping
    /// the test where there is no GPU).
    /// </summary>
    private Device Get(string row) => row switch
    {
        "emulated" => emulator.Get(MatMulPrecision.Tf32, multiprocessors: 4),
        "emulated-keys32" => emulator.Get(MatMulPrecision.Tf32, multiprocessors: 4, tf32KeyBlocks: false),
        "emulated-bf16" => emulator.Get(MatMulPrecision.Bf16, multiprocessors: 4),
        "emulated-async-bf16" => emulator.Get(MatMulPrecision.Bf16, multiprocessors: 4, pipelinedAttention: true),
        _ => TestBackends.Get(row),
    };

    private static bool Bf16(string row) => row.EndsWith("bf16", StringComparison.Ordinal);

    private static (float[] Output, float[] LogSumExp) Forward(Device device, float[] qkv, int batch, int tokens, int heads, int headDim,
        bool causal)
    {
        int outputs = batch * tokens * heads * headDim;
        using var qkvT = device.Upload<float>(qkv, new Shape(qkv.Length));
        using var output = device.Upload<float>(new float[outputs], new Shape(outputs));
        using var lse = device.Upload<float>(new float[batch * heads * tokens], new Shape(batch * heads * tokens));
        device.Kernels.AttentionForward(qkvT, output, lse, batch, tokens, heads, headDim, causal);
        return (output.ToArray(), lse.ToArray());
    }

    private static float[] Backward(Device device, float[] qkv, float[] dy, float[] prior, int batch, int tokens, int heads,
        int headDim, bool causal, bool accumulate = true) =>
        ForwardAndBackward(device, qkv, dy, prior, batch, tokens, heads, headDim, causal, accumulate).Gradients;

    /// <summary>The forward's output and log-sum-exps, and dqkv: <paramref name="prior"/> plus (or replaced by) the gradient.</summary>
    private static (float[] Output, float[] LogSumExp, float[] Gradients) ForwardAndBackward(Device device, float[] qkv, float[] dy,
        float[] prior, int batch, int tokens, int heads, int headDim, bool causal, bool accumulate)
    {
        using var qkvT = device.Upload<float>(qkv, new Shape(qkv.Length));
        using var dyT = device.Upload<float>(dy, new Shape(dy.Length));
        using var output = device.Upload<float>(new float[dy.Length], new Shape(dy.Length));
        using var lse = device.Upload<float>(new float[batch * heads * tokens], new Shape(batch * heads * tokens));
        using var dQkv = device.Upload<float>(prior, new Shape(prior.Length));
        device.Kernels.AttentionForward(qkvT, output, lse, batch, tokens, heads, headDim, causal);
        device.Kernels.AttentionBackward(dyT, qkvT, output, lse, dQkv, batch, tokens, heads, headDim, causal, accumulate);
        return (output.ToArray(), lse.ToArray(), dQkv.ToArray());
    }

    /// <summary>The inputs as a row's kernels stage them: rounded to BF16 under bf16, else to TF32.</summary>
    private static double[] Rounded(float[] x, string row) =>
        Array.ConvertAll(x, v => (double)(Bf16(row) ? TensorCoreRounding.Bf16(v) : TensorCoreRounding.Tf32(v)));
}
