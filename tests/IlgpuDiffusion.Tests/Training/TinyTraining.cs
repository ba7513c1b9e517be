using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Tests.Training;

/// <summary>
/// A synthetic corpus written as token shards for <see cref="TinyModels.TrainingDit"/> (V 32 with MASK 31, L 16),
/// and the training settings of the tests that train it: each sequence repeats one token drawn from a skewed
/// distribution, so a model can lower its loss both by learning the token frequencies and by copying unmasked
/// neighbours.
/// </summary>
internal sealed class TinyTraining : IDisposable
{
    /// <summary>The corpus's vocabulary: every id of the model but MASK.</summary>
    public const int DataVocabulary = TinyModels.Vocab - 1;

    private readonly TempDirectory _temp = new();

    public TinyTraining(int trainSequences = 64, int validationSequences = 10)
    {
        Train = Write("train.tokens", trainSequences, seed: 1);
        Validation = Write("validation.tokens", validationSequences, seed: 2);
    }

    public static TrainingConfig Config { get; } = TrainingConfig.Mdlm with
    {
        LearningRate = 3e-3,
        WarmupSteps = 2,
        BatchSize = 4,
        LogInterval = 5,
        ValidationInterval = 0,
        Seed = 7,
    };

    public TokenShardSet Train { get; }

    public TokenShardSet Validation { get; }

    public string File(string name) => _temp.File(name);

    /// <summary>A freshly initialized <see cref="TinyModels.TrainingDit"/> with gradients on the CPU backend.</summary>
    public static Dit NewModel(ulong seed = 3)
    {
        var model = new Dit(TinyModels.TrainingDit, TinyModels.Cpu);
        model.Initialize(seed);
        return model;
    }

    private TokenShardSet Write(string name, int sequences, int seed)
    {
        var random = new Random(seed);
        string path = _temp.File(name);
        using (var writer = new TokenShardWriter(path, TinyModels.Length, DataVocabulary))
        {
            var sequence = new int[TinyModels.Length];
            for (int s = 0; s < sequences; s++)
            {
                // Token k with probability ∝ 2^-k over the first 8 ids.
                int token = 0;
                while (token < 7 && random.NextDouble() < 0.5) token++;
                Array.Fill(sequence, token);
                writer.Write(sequence);
            }
            writer.Commit();
        }
        return TokenShardSet.Open([path], TinyModels.Length, DataVocabulary);
    }

    public void Dispose()
    {
        Train.Dispose();
        Validation.Dispose();
        _temp.Dispose();
    }
}
