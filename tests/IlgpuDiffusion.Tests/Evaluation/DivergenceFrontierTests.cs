using IlgpuDiffusion.Evaluation;
using Xunit;

namespace IlgpuDiffusion.Tests.Evaluation;

public sealed class DivergenceFrontierTests
{
    [Fact]
    public void Default_mixture_weights_match_the_reference_linspace()
    {
        double[] weights = DivergenceFrontier.MixtureWeights(25);
        Assert.Equal(25, weights.Length);
        Assert.Equal(1e-6, weights[0], 15);
        Assert.Equal(0.5, weights[12], 15);
        Assert.Equal(1 - 1e-6, weights[24], 15);
    }

    [Fact]
    public void One_mixture_point_by_hand()
    {
        // P = (½, ½), Q = (1, 0), λ = ½: R = (¾, ¼); KL(Q‖R) = ln(4/3), KL(P‖R) = ½ ln(2/3) + ½ ln 2 = ½ ln(4/3).
        // c = 1: the point is (¾, √3/2). Area under (0,1) – (¾, √3/2) – (1,0): ¾·(1 + √3/2)/2 + ¼·(√3/2)/2 = 3/8 + √3/4.
        var curve = DivergenceFrontier.Curve([0.5, 0.5], [1, 0], [0.5], scalingFactor: 1);
        Assert.Equal(3, curve.Length);
        Assert.Equal((1.0, 0.0), curve[0]);
        Assert.Equal(0.75, curve[1].X, 12);
        Assert.Equal(Math.Sqrt(3) / 2, curve[1].Y, 12);
        Assert.Equal((0.0, 1.0), curve[2]);
        Assert.Equal(0.375 + Math.Sqrt(3) / 4, DivergenceFrontier.Area(curve), 12);
    }

    [Fact]
    public void Disjoint_histograms_by_hand()
    {
        // P = (1, 0), Q = (0, 1), λ = ½, c = 5: both KL = ln 2, the point is (1/32, 1/32); the area is 1/32.
        var curve = DivergenceFrontier.Curve([1, 0], [0, 1], [0.5], scalingFactor: 5);
        Assert.Equal(1.0 / 32, curve[1].X, 12);
        Assert.Equal(1.0 / 32, DivergenceFrontier.Area(curve), 12);
    }

    [Fact]
    public void Identical_histograms_have_area_one()
    {
        double[] p = [0.1, 0.2, 0.3, 0.4];
        var curve = DivergenceFrontier.Curve(p, p, DivergenceFrontier.MixtureWeights(25), scalingFactor: 5);
        Assert.Equal(1, DivergenceFrontier.Area(curve), 12);
    }

    [Fact]
    public void Disjoint_histograms_with_the_default_grid_are_close_to_the_continuous_value()
    {
        // x = (1−λ)^5, y = λ^5: the exact area is ∫(1 − x^{1/5})^5 dx = 5·B(6, 6) = 1/462; the 25-point trapezoid lies just above it.
        var curve = DivergenceFrontier.Curve([0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5], DivergenceFrontier.MixtureWeights(25), scalingFactor: 5);
        double area = DivergenceFrontier.Area(curve);
        Assert.InRange(area, 1.0 / 462, 1.0 / 462 + 0.002);
    }

    [Fact]
    public void Invalid_histograms_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => DivergenceFrontier.Curve([1], [0.5, 0.5], [0.5], 5));
        Assert.Throws<ArgumentException>(() => DivergenceFrontier.Curve([-0.1, 1.1], [0.5, 0.5], [0.5], 5));
        Assert.Throws<ArgumentException>(() => DivergenceFrontier.Curve([0.5, 0.5], [0.5, 0.5], [1.0], 5));
    }
}
