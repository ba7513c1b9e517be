using ILGPU;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// One GEMM launch: sizes, operand strides (which encode the layout), tile shape and flags.
/// Element (row, kk) of op(a) is <c>a[row·ARowStride + kk·AKStride]</c>; element (kk, col)
/// of op(b) is <c>b[kk·BKStride + col·BColStride]</c>; c is dense [M, N]. Tile extents are
/// powers of two given as shifts, so tile loads split indices with shifts and masks
/// instead of integer division: TileM = 4·Group.DimY = 1 &lt;&lt; TileMShift, likewise N and K.
/// </summary>
internal readonly record struct GemmArguments(
    int M, int N, int K, int ARowStride, int AKStride, int BKStride, int BColStride,
    int TileMShift, int TileNShift, int TileKShift, int Accumulate, int HasBias);

/// <summary>
/// Tiled fp32 GEMM with shared memory and 4×4 register blocking. A group of
/// (DimX, DimY) threads computes a (4·DimY) × (4·DimX) tile of c; each thread owns rows
/// ty + i·DimY and columns tx + j·DimX (i, j &lt; 4), so shared-memory reads of a warp hit
/// consecutive banks and stores to c are coalesced. The k dimension advances TileK at a
/// time through dynamic shared memory holding op(a) as [TileK, 4·DimY + 1] and op(b) as
/// [TileK, 4·DimX + 1] (one float of padding per row, so that staging a k-contiguous
/// operand does not hit one bank 16 times). Tile loads are bounds-checked (zero fill), so
/// any m, n, k works.
/// </summary>
internal static class MatMulKernels
{
    /// <summary>Floats of dynamic shared memory a launch with this group shape needs.</summary>
    public static int SharedFloats(int groupX, int groupY, int tileK) => tileK * (4 * groupX + 1 + 4 * groupY + 1);

    /// <summary>c = op(a)·op(b) [+ c] [+ bias[col]], c [M, N]; grid (⌈N/(4·DimX)⌉, ⌈M/(4·DimY)⌉).</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Gemm(ArrayView<float> a, ArrayView<float> b, ArrayView<float> bias, ArrayView<float> c, GemmArguments g)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int gx = Group.DimX, gy = Group.DimY, tx = Group.IdxX, ty = Group.IdxY;
        int tileM = 1 << g.TileMShift, tileN = 1 << g.TileNShift, tileK = 1 << g.TileKShift;
        int rowBase = Grid.IdxY * tileM, colBase = Grid.IdxX * tileN;
        int bOffset = tileK * (tileM + 1);

        var c0 = new Quad(0, 0, 0, 0);
        var c1 = c0;
        var c2 = c0;
        var c3 = c0;
        for (int k0 = 0; k0 < g.K; k0 += tileK)
        {
            LoadTileA(a, shared, g, rowBase, k0, tileM);
            LoadTileB(b, shared, g, colBase, k0, tileN, bOffset);
            Group.Barrier();
            int kCount = XMin(tileK, g.K - k0);
            for (int kk = 0; kk < kCount; kk++)
            {
                int ai = kk * (tileM + 1) + ty;
                int bi = bOffset + kk * (tileN + 1) + tx;
                var bq = new Quad(shared[bi], shared[bi + gx], shared[bi + 2 * gx], shared[bi + 3 * gx]);
                c0 = c0.MulAdd(shared[ai], bq);
                c1 = c1.MulAdd(shared[ai + gy], bq);
                c2 = c2.MulAdd(shared[ai + 2 * gy], bq);
                c3 = c3.MulAdd(shared[ai + 3 * gy], bq);
            }
            Group.Barrier();
        }

        int col = colBase + tx;
        StoreRow(c, bias, g, rowBase + ty, col, gx, c0);
        StoreRow(c, bias, g, rowBase + ty + gy, col, gx, c1);
        StoreRow(c, bias, g, rowBase + ty + 2 * gy, col, gx, c2);
        StoreRow(c, bias, g, rowBase + ty + 3 * gy, col, gx, c3);
    }

    /// <summary>Stages op(a)[rowBase.., k0..] as shared[kk·(tileM+1) + r]; consecutive threads walk the contiguous axis of a.</summary>
    private static void LoadTileA(ArrayView<float> a, ArrayView<float> shared, in GemmArguments g, int rowBase, int k0, int tileM)
    {
        int threads = Group.DimX * Group.DimY, tileK = 1 << g.TileKShift;
        bool kFast = g.AKStride == 1;
        for (int e = Group.IdxY * Group.DimX + Group.IdxX; e < tileM * tileK; e += threads)
        {
            int r = kFast ? e >> g.TileKShift : e & (tileM - 1);
            int kk = kFast ? e & (tileK - 1) : e >> g.TileMShift;
            int row = rowBase + r, k = k0 + kk;
            shared[kk * (tileM + 1) + r] = row < g.M && k < g.K ? a[row * g.ARowStride + k * g.AKStride] : 0f;
        }
    }

    /// <summary>Stages op(b)[k0.., colBase..] as shared[bOffset + kk·(tileN+1) + col].</summary>
    private static void LoadTileB(ArrayView<float> b, ArrayView<float> shared, in GemmArguments g, int colBase, int k0, int tileN,
        int bOffset)
    {
        int threads = Group.DimX * Group.DimY, tileK = 1 << g.TileKShift;
        bool kFast = g.BKStride == 1;
        for (int e = Group.IdxY * Group.DimX + Group.IdxX; e < tileN * tileK; e += threads)
        {
            int cc = kFast ? e >> g.TileKShift : e & (tileN - 1);
            int kk = kFast ? e & (tileK - 1) : e >> g.TileNShift;
            int col = colBase + cc, k = k0 + kk;
            shared[bOffset + kk * (tileN + 1) + cc] = col < g.N && k < g.K ? b[k * g.BKStride + col * g.BColStride] : 0f;
        }
    }

    /// <summary>Writes the four columns col + j·stride of one register-tile row.</summary>
    private static void StoreRow(ArrayView<float> c, ArrayView<float> bias, in GemmArguments g, int row, int col, int stride, Quad q)
    {
        if (row >= g.M) return;
        Store(c, bias, g, row, col, q.X);
        Store(c, bias, g, row, col + stride, q.Y);
        Store(c, bias, g, row, col + 2 * stride, q.Z);
        Store(c, bias, g, row, col + 3 * stride, q.W);
    }

    private static void Store(ArrayView<float> c, ArrayView<float> bias, in GemmArguments g, int row, int col, float value)
    {
        if (col >= g.N) return;
        int index = row * g.N + col;
        if (g.HasBias != 0) value += bias[col];
        if (g.Accumulate != 0) value += c[index];
        c[index] = value;
    }

    private static int XMin(int x, int y) => x < y ? x : y;
}
