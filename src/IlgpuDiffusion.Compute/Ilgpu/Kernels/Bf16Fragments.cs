using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>Four BF16 A fragments: a warp's 16 rows × 64 k (a head of queries), F{c} covering k 16c.. (registers).</summary>
internal struct Bf16Rows64
{
    public MmaA F0, F1, F2, F3;
}

/// <summary>
/// The BF16 steps of the tensor-core attention (<see cref="TensorCoreAttentionBf16Kernels"/>): staging head rows into
/// shared memory as packed pairs (two consecutive k in one word, the lower in the low half, rounded to nearest even as
/// <c>cvt.rn.bf16x2.f32</c> does), loading fragments from them, and the m16n8k16 product. Operands are staged as rows
/// of pairs along the head: where the product's k runs along the head (Q·Kᵀ) its B lines are those rows, where it runs
/// along the rows (P·V of wide heads, the backward's dk, dv and dq) its B fragments come from them transposed. The
/// forward of heads of up to 64 stages V transposed instead, as pairs along the keys
/// (<see cref="StageColumns(ArrayView{float}, int, int, ArrayView{float}, int, int, int, int, int, int)"/>): its
/// transposed loads would need a second lane offset in a loop held at 128 registers, and ptxas spills. On CUDA (sm_80+)
/// a product is one <c>mma.sync</c> and fragments load with ldmatrix (one per A fragment or pair of B fragments, .trans
/// for those from rows along k); on ILGPU's CPU accelerator with warps of 32 (tests) A fragments load word by word and
/// each lane gathers the rows of its accumulator registers from the other lanes with warp shuffles and reads its B
/// lines from shared memory, so everything but those two instructions runs as on a GPU (a host test checks the ldmatrix
/// addressing against the word-by-word places).
/// </summary>
internal static class Bf16Fragments
{
    /// <summary>
    /// The row limit this thread passes to the staging of pair rows for a head of <paramref name="columns"/> (even):
    /// <paramref name="limit"/> where the thread's pair of columns is inside the head, 0 where it is padding, which then
    /// stages zeros. Computed once per kernel, outside its loop (<see cref="AttentionFragments.StagingLimit(int, int)"/> for
    /// the staging of head columns).
    /// </summary>
    public static int PairStagingLimit(int limit, int columns) => PairStagingLimit(limit, columns, AttentionFragments.HeadWidth);

    /// <summary><see cref="PairStagingLimit(int, int)"/> for a stage <paramref name="width"/> columns wide (a power of two).</summary>
    public static int PairStagingLimit(int limit, int columns, int width) => 2 * (Group.IdxX & (width / 2 - 1)) < columns ? limit : 0;

    /// <summary>
    /// Stages rows first .. first+count of a head (row r at source[start + (first + r)·rowStride + col], col &lt; 64) as 32
    /// pair words each: shared[offset + r·stride + w] holds columns 2w, 2w + 1; zeros from row <paramref name="limit"/> on
    /// (from row 0 on in a padding pair: <see cref="PairStagingLimit(int, int)"/>). All <paramref name="threads"/> threads take part
    /// (a multiple of 32); a tile wholly inside the sequence skips the row checks; no barrier.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StageRows(ArrayView<float> shared, int offset, int stride, ArrayView<float> source, int start, int rowStride,
        int first, int count, int limit, int threads) =>
        StageRows(shared, offset, stride, source, start, rowStride, first, count, limit, threads, AttentionFragments.HeadWidth);

    /// <summary>
    /// <see cref="StageRows(ArrayView{float}, int, int, ArrayView{float}, int, int, int, int, int, int)"/> for rows
    /// <paramref name="width"/> columns wide (a power of two, a constant at every call): width / 2 pair words each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StageRows(ArrayView<float> shared, int offset, int stride, ArrayView<float> source, int start, int rowStride,
        int first, int count, int limit, int threads, int width)
    {
        int words = width / 2;
        int rowsPerPass = threads / words, row = Group.IdxX / words, word = Group.IdxX & (words - 1);
        int from = start + (first + row) * rowStride + 2 * word, to = offset + row * stride + word;
        if (first + count <= limit)
        {
            for (int r = 0; r < count; r += rowsPerPass)
                shared[to + r * stride] = Pack(source[from + r * rowStride], source[from + r * rowStride + 1]);
            return;
        }
        for (int r = 0; r < count; r += rowsPerPass)
        {
            bool inside = first + row + r < limit;
            shared[to + r * stride] = inside ? Pack(source[from + r * rowStride], source[from + r * rowStride + 1]) : 0f;
        }
    }

    /// <summary>
    /// Stages rows first .. first+count of a head transposed, as pairs of rows: shared[offset + col·stride + p] holds rows
    /// 2p and 2p + 1 of column col (col &lt; 64); zeros for rows from <paramref name="limit"/> on (from row 0 on in a padding
    /// column: <see cref="AttentionFragments.StagingLimit(int, int)"/>). Each thread keeps one column, so the reads of a warp are one
    /// row's consecutive columns. All <paramref name="threads"/> threads take part (a multiple of 64); no barrier.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StageColumns(ArrayView<float> shared, int offset, int stride, ArrayView<float> source, int start,
        int rowStride, int first, int count, int limit, int threads) =>
        StageColumns(shared, offset, stride, source, start, rowStride, first, count, limit, threads, AttentionFragments.HeadWidth);

    /// <summary>
    /// <see cref="StageColumns(ArrayView{float}, int, int, ArrayView{float}, int, int, int, int, int, int)"/> for
    /// <paramref name="width"/> columns (a power of two, a constant at every call; <paramref name="threads"/> a multiple of it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StageColumns(ArrayView<float> shared, int offset, int stride, ArrayView<float> source, int start,
        int rowStride, int first, int count, int limit, int threads, int width)
    {
        int pairsPerPass = threads / width, column = Group.IdxX & (width - 1), pair = Group.IdxX / width;
        int from = start + (first + 2 * pair) * rowStride + column, to = offset + column * stride + pair;
        if (first + count <= limit)
        {
            for (int p = 0; p < count / 2; p += pairsPerPass)
                shared[to + p] = Pack(source[from + 2 * p * rowStride], source[from + (2 * p + 1) * rowStride]);
            return;
        }
        for (int p = 0; p < count / 2; p += pairsPerPass)
        {
            int row = first + 2 * (pair + p);
            float even = row < limit ? source[from + 2 * p * rowStride] : 0f;
            float odd = row + 1 < limit ? source[from + (2 * p + 1) * rowStride] : 0f;
            shared[to + p] = Pack(even, odd);
        }
    }

    /// <summary>
    /// <see cref="StageRows(ArrayView{float}, int, int, ArrayView{float}, int, int, int, int, int, int, int)"/> for a tile
    /// wholly inside the sequence of an aligned head of <paramref name="width"/> columns (64 or 128): eight columns a
    /// thread, packed as four pair words, in passes of 16-byte loads and stores (<see cref="WholeRowStaging"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StageWholeRows(ArrayView<float> shared, int offset, int stride, ArrayView<float> source, int start,
        int rowStride, int first, int rows, int threads, int width) =>
        WholeRowStaging.Stage<Bf16PairWords>(shared, offset, stride, source, start, rowStride, first, rows, threads, width);

    /// <summary>
    /// <see cref="StageColumns(ArrayView{float}, int, int, ArrayView{float}, int, int, int, int, int, int, int)"/> for a
    /// tile of <paramref name="rows"/> (32 or 64) wholly inside the sequence, <paramref name="width"/> (32 to 128) columns
    /// of a head that is as wide, whose rows start on 16 bytes (<see cref="AttentionArguments.VectorRows"/>): a lane takes
    /// four consecutive rows (lane mod rows / 4) of four consecutive columns (four 16-byte loads) and stores each
    /// column's two pair words with one 8-byte store (<paramref name="offset"/> and <paramref name="stride"/> even), in 1,
    /// 2 or 4 passes (width·rows / (16·threads)). A half-warp stores 32 words of distinct banks (one column of 64 rows, or
    /// two columns of 32 rows four columns apart, with 4·<paramref name="stride"/> ≡ 16 mod 32); the lanes of neighbouring
    /// columns read the two halves of each row's 32-byte sector.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StageWholeColumns(ArrayView<float> shared, int offset, int stride, ArrayView<float> source, int start,
        int rowStride, int first, int rows, int threads, int width)
    {
        int groups = rows / 4, quadsPerWarp = Mma.WarpLanes / groups, quadsPerPass = quadsPerWarp * (threads / Mma.WarpLanes);
        int lane = Group.IdxX & (Mma.WarpLanes - 1), group = lane & (groups - 1);
        int quad = quadsPerWarp * (Group.IdxX / Mma.WarpLanes) + lane / groups, rowQuads = rowStride / 4;
        var from = source.SubView(start + (first + 4 * group) * rowStride + 4 * quad).Cast<Quad>().AsAligned(16);
        var to = shared.SubView(offset + 4 * quad * stride + 2 * group).Cast<WordPair>().AsAligned(8);
        ColumnPass(from, to, 0, quadsPerPass, rowQuads, stride);
        if (width / 4 <= quadsPerPass) return;
        ColumnPass(from, to, 1, quadsPerPass, rowQuads, stride);
        if (width / 4 <= 2 * quadsPerPass) return;
        ColumnPass(from, to, 2, quadsPerPass, rowQuads, stride);
        ColumnPass(from, to, 3, quadsPerPass, rowQuads, stride);
    }

    /// <summary>
    /// Pass <paramref name="pass"/> of <see cref="StageWholeColumns"/>: four rows of four columns 4·quadsPerPass·pass on,
    /// as two pair words per column (word pairs of <paramref name="stride"/> / 2 between columns).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ColumnPass(ArrayView<Quad> from, ArrayView<WordPair> to, int pass, int quadsPerPass, int rowQuads,
        int stride)
    {
        int at = quadsPerPass * pass, column = 2 * at * stride; // quads along the rows; word pairs to the pass's first column
        Quad r0 = from[at], r1 = from[rowQuads + at], r2 = from[2 * rowQuads + at], r3 = from[3 * rowQuads + at];
        to[column] = new WordPair(Pack(r0.X, r1.X), Pack(r2.X, r3.X));
        to[column + stride / 2] = new WordPair(Pack(r0.Y, r1.Y), Pack(r2.Y, r3.Y));
        to[column + stride] = new WordPair(Pack(r0.Z, r1.Z), Pack(r2.Z, r3.Z));
        to[column + 3 * stride / 2] = new WordPair(Pack(r0.W, r1.W), Pack(r2.W, r3.W));
    }

    /// <summary>Two words of shared memory stored together (8 bytes, 8-byte aligned): one STS.64.</summary>
    internal readonly struct WordPair(float low, float high)
    {
        public readonly float Low = low, High = high;
    }

    /// <summary>
    /// The A fragment of 16 rows × k 16c.. from pair rows (row r's word w at <paramref name="rows"/> + r·stride + w): one
    /// ldmatrix on CUDA (<paramref name="rows"/> and <paramref name="stride"/> multiples of 4), word by word elsewhere.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static MmaA LoadA(ArrayView<float> shared, int rows, int stride, int c, in LaneMatrices lane)
    {
        if (CudaAsm.IsSupported) return lane.LoadA(rows + 8 * c, stride);
        var at = shared.SubView(rows + Mma.ARow(lane.Lane, 0) * stride + 8 * c + (lane.Lane & 3)); // A0: row g, word 8c + t
        int below = 8 * stride;
        return new MmaA
        {
            A0 = Interop.FloatAsInt(at[0]),
            A1 = Interop.FloatAsInt(at[below]),
            A2 = Interop.FloatAsInt(at[4]),
            A3 = Interop.FloatAsInt(at[below + 4]),
        };
    }

    /// <summary>The warp's 16 query rows × 64 as four A fragments.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Bf16Rows64 LoadRows64(ArrayView<float> shared, int rows, int stride, in LaneMatrices lane) => new()
    {
        F0 = LoadA(shared, rows, stride, 0, lane),
        F1 = LoadA(shared, rows, stride, 1, lane),
        F2 = LoadA(shared, rows, stride, 2, lane),
        F3 = LoadA(shared, rows, stride, 3, lane),
    };

    /// <summary>
    /// The B fragments of 8 columns each at lines <paramref name="line"/>.. and <paramref name="line"/> + 8.. (line n's word
    /// w at <paramref name="lines"/> + n·stride + w) × k 16c..: one ldmatrix (CUDA only; the emulated products read B's
    /// words themselves).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (MmaB Low, MmaB High) LoadB(int lines, int stride, int line, int c, in LaneMatrices lane) =>
        lane.LoadB(lines + line * stride + 8 * c, stride);

    /// <summary>
    /// An A fragment of k 16c.. from accumulator fragments of columns 16c.. (<paramref name="low"/>) and 16c + 8..
    /// (<paramref name="high"/>), rounded to BF16: the accumulator layout of m16n8k16 is the A layout of the next
    /// product's pairs, so P (or dS) goes from one product into the next without leaving registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static MmaA FromAccumulators(in MmaAccumulator low, in MmaAccumulator high) => new()
    {
        A0 = PackBits(low.C0, low.C1),
        A1 = PackBits(low.C2, low.C3),
        A2 = PackBits(high.C0, high.C1),
        A3 = PackBits(high.C2, high.C3),
    };

    /// <summary>
    /// c_j += a·B_j for the eight fragments of <paramref name="c"/>: B_j the pair lines 8j.. at <paramref name="lines"/>
    /// (<paramref name="stride"/> words apart), k 16·<paramref name="chunk"/>..; the last four only where
    /// <paramref name="used"/> lines (of 64, a head's columns; the rest zero padding) reach past 32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(ref Fragments8 c, in MmaA a, ArrayView<float> shared, int lines, int stride, int chunk,
        in LaneMatrices lane, int used)
    {
        Accumulate(ref c.F0, ref c.F1, ref c.F2, ref c.F3, a, shared, lines, stride, chunk, lane);
        if (used > 32) Accumulate(ref c.F4, ref c.F5, ref c.F6, ref c.F7, a, shared, lines + 32 * stride, stride, chunk, lane);
    }

    /// <summary>
    /// c [16, 128] += a·B for a wide head (<see cref="WideHeadFragments.Fits"/>): the sixteen fragments' lines (head columns)
    /// from <paramref name="lines"/>, as the eight-fragment version for lines 0..64 and 64..128, the fragments of each 32
    /// lines only where the head's <paramref name="columns"/> reach into them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(ref Fragments16 c, in MmaA a, ArrayView<float> shared, int lines, int stride, int chunk,
        in LaneMatrices lane, int columns)
    {
        Accumulate(ref c.Left, a, shared, lines, stride, chunk, lane, 64);
        Accumulate(ref c.Right, a, shared, lines + 64 * stride, stride, chunk, lane, columns - 64);
    }

    /// <summary>
    /// c_j += a·B_j for the eight fragments of <paramref name="c"/> as
    /// <see cref="Accumulate(ref Fragments8, in MmaA, ArrayView{float}, int, int, int, in LaneMatrices, int)"/> does, B from
    /// pair rows along the lines instead: k row r's word w at <paramref name="rows"/> + r·<paramref name="stride"/> + w
    /// holds lines 2w and 2w + 1 (a head tile staged once, as the scores take it), k 16·<paramref name="chunk"/>.. (on
    /// CUDA by transposed ldmatrix, <see cref="LaneMatrices.LoadBFromRows"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AccumulateFromRows(ref Fragments8 c, in MmaA a, ArrayView<float> shared, int rows, int stride, int chunk,
        in LaneMatrices lane, int used)
    {
        AccumulateFromRows(ref c.F0, ref c.F1, ref c.F2, ref c.F3, a, shared, rows, stride, chunk, lane);
        if (used > 32) AccumulateFromRows(ref c.F4, ref c.F5, ref c.F6, ref c.F7, a, shared, rows + 16, stride, chunk, lane);
    }

    /// <summary>
    /// <see cref="AccumulateFromRows(ref Fragments8, in MmaA, ArrayView{float}, int, int, int, in LaneMatrices, int)"/> for a
    /// wide head (<see cref="WideHeadFragments.Fits"/>): lines 0..64 from the rows' first 32 words, 64..128 from the next 32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AccumulateFromRows(ref Fragments16 c, in MmaA a, ArrayView<float> shared, int rows, int stride, int chunk,
        in LaneMatrices lane, int columns)
    {
        AccumulateFromRows(ref c.Left, a, shared, rows, stride, chunk, lane, 64);
        AccumulateFromRows(ref c.Right, a, shared, rows + 32, stride, chunk, lane, columns - 64);
    }

    /// <summary>The four fragments' c_j += a·B_j, as the eight-fragment version.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(ref Fragments4 c, in MmaA a, ArrayView<float> shared, int lines, int stride, int chunk,
        in LaneMatrices lane) =>
        Accumulate(ref c.F0, ref c.F1, ref c.F2, ref c.F3, a, shared, lines, stride, chunk, lane);

    /// <summary>
    /// c_j += a·B_j for four fragments j: B_j the pair lines 8j.. at <paramref name="lines"/>, k 16·<paramref name="chunk"/>..:
    /// <see cref="Mma.Bf16"/> on CUDA; elsewhere each lane gathers its rows of A from the other lanes with warp shuffles
    /// (which checks the register layout the kernels keep fragments in) and reads its lines of B from shared memory.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(ref MmaAccumulator c0, ref MmaAccumulator c1, ref MmaAccumulator c2, ref MmaAccumulator c3,
        in MmaA a, ArrayView<float> shared, int lines, int stride, int chunk, in LaneMatrices lane)
    {
        if (!CudaAsm.IsSupported)
        {
            Emulate(ref c0, ref c1, ref c2, ref c3, a, shared, lines, stride, chunk, lane.Lane, fromRows: false);
            return;
        }
        var (b0, b1) = LoadB(lines, stride, 0, chunk, lane);
        var (b2, b3) = LoadB(lines, stride, 16, chunk, lane);
        Products(ref c0, ref c1, ref c2, ref c3, a, b0, b1, b2, b3);
    }

    /// <summary>
    /// c_j += a·B_j for four fragments j: B_j lines 8j.. of the pair rows at <paramref name="rows"/> (see
    /// <see cref="AccumulateFromRows(ref Fragments8, in MmaA, ArrayView{float}, int, int, int, in LaneMatrices, int)"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateFromRows(ref MmaAccumulator c0, ref MmaAccumulator c1, ref MmaAccumulator c2,
        ref MmaAccumulator c3, in MmaA a, ArrayView<float> shared, int rows, int stride, int chunk, in LaneMatrices lane)
    {
        if (!CudaAsm.IsSupported)
        {
            Emulate(ref c0, ref c1, ref c2, ref c3, a, shared, rows, stride, chunk, lane.Lane, fromRows: true);
            return;
        }
        int first = rows + 16 * chunk * stride;
        var (b0, b1) = lane.LoadBFromRows(first, stride);
        var (b2, b3) = lane.LoadBFromRows(first + 8, stride);
        Products(ref c0, ref c1, ref c2, ref c3, a, b0, b1, b2, b3);
    }

    /// <summary>c_j += a·b_j on BF16 tensor cores, one <see cref="Mma.Bf16"/> each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Products(ref MmaAccumulator c0, ref MmaAccumulator c1, ref MmaAccumulator c2, ref MmaAccumulator c3,
        in MmaA a, in MmaB b0, in MmaB b1, in MmaB b2, in MmaB b3)
    {
        Mma.Bf16(ref c0, a, b0);
        Mma.Bf16(ref c1, a, b1);
        Mma.Bf16(ref c2, a, b2);
        Mma.Bf16(ref c3, a, b3);
    }

    /// <summary>
    /// The four products of <see cref="Accumulate(ref Fragments4, in MmaA, ArrayView{float}, int, int, int, in LaneMatrices)"/>
    /// (or, <paramref name="fromRows"/>, of their counterpart on pair rows) without the instruction, pair of k by pair of k:
    /// A's pair p of row r sits in lane 4·(r mod 8) + p mod 4 (A0/A2 for rows 0–7, A1/A3 for 8–15, A2/A3 for p ≥ 4); this
    /// lane's accumulators want rows g and g + 8 and lines 2t, 2t + 1 of each fragment.
    /// </summary>
    private static void Emulate(ref MmaAccumulator c0, ref MmaAccumulator c1, ref MmaAccumulator c2, ref MmaAccumulator c3,
        in MmaA a, ArrayView<float> shared, int lines, int stride, int chunk, int lane, bool fromRows)
    {
        int g = lane >> 2, line = Mma.AccumulatorColumn(lane, 0); // line 2t of the first fragment
        var b = new EmulatedLines(shared, lines, stride, chunk, fromRows);
        for (int pair = 0; pair < 8; pair++) // k = 2·pair, 2·pair + 1
        {
            bool upper = pair >= 4;
            uint rowLow = Warp.Shuffle(upper ? a.A2 : a.A0, 4 * g + (pair & 3)); // row g
            uint rowHigh = Warp.Shuffle(upper ? a.A3 : a.A1, 4 * g + (pair & 3)); // row g + 8
            Add(ref c0, rowLow, rowHigh, b, line, pair);
            Add(ref c1, rowLow, rowHigh, b, line + 8, pair);
            Add(ref c2, rowLow, rowHigh, b, line + 16, pair);
            Add(ref c3, rowLow, rowHigh, b, line + 24, pair);
        }
    }

    /// <summary>
    /// One pair of k of a 16 × 8 product: this lane's rows times the pair words of lines <paramref name="line"/> and line + 1.
    /// </summary>
    private static void Add(ref MmaAccumulator c, uint rowLow, uint rowHigh, in EmulatedLines b, int line, int pair)
    {
        uint column0 = b.Word(line, pair), column1 = b.Word(line + 1, pair);
        c.C0 += Dot(rowLow, column0);
        c.C1 += Dot(rowLow, column1);
        c.C2 += Dot(rowHigh, column0);
        c.C3 += Dot(rowHigh, column1);
    }

    /// <summary>
    /// The B operand of an emulated product as staged: lines along k (line n's word w at Lines + n·Stride + w), or pair rows
    /// along the lines (k row r's word w at Lines + r·Stride + w holds lines 2w, 2w + 1); k 16·Chunk.. either way.
    /// </summary>
    private readonly struct EmulatedLines(ArrayView<float> shared, int lines, int stride, int chunk, bool fromRows)
    {
        /// <summary>The pair word of line <paramref name="line"/> at k 16·chunk + 2·<paramref name="pair"/> and the k after it.</summary>
        public uint Word(int line, int pair) => fromRows
            ? ColumnPair(shared, lines + (16 * chunk + 2 * pair) * stride, stride, line)
            : Interop.FloatAsInt(shared[lines + line * stride + 8 * chunk + pair]);
    }

    /// <summary>
    /// The 16-bit elements of column <paramref name="column"/> in the pair row at <paramref name="first"/> (low half) and in
    /// the one <paramref name="stride"/> words on (high half): a pair along the rows from rows of pairs along the columns.
    /// </summary>
    public static uint ColumnPair(ArrayView<float> shared, int first, int stride, int column)
    {
        int word = first + column / 2, shift = 16 * (column & 1);
        uint low = Interop.FloatAsInt(shared[word]) >> shift & 0xFFFF, high = Interop.FloatAsInt(shared[word + stride]) >> shift & 0xFFFF;
        return low | high << 16;
    }

    /// <summary>Two values rounded to BF16 in one word (the bits of a float), <paramref name="low"/> in the low half.</summary>
    public static float Pack(float low, float high) => Interop.IntAsFloat(PackBits(low, high));

    private static uint PackBits(float low, float high) => CudaAsm.IsSupported
        ? Mma.PackBf16(low, high)
        : TensorCoreRounding.Bf16Bits(low) | (TensorCoreRounding.Bf16Bits(high) << 16);

    /// <summary>The two-term dot product of two pair words.</summary>
    private static float Dot(uint x, uint y) =>
        Interop.IntAsFloat(x << 16) * Interop.IntAsFloat(y << 16)
        + Interop.IntAsFloat(x & 0xFFFF0000u) * Interop.IntAsFloat(y & 0xFFFF0000u);
}
