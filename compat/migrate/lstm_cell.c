/* The pointwise half of one LSTM step for many rows, for compat/migrate/lstm_batch.py.
 *
 * torch spends most of a batched LSTM step in separate passes over the gates (sigmoid,
 * tanh, products); this does them in one pass. Built on first use by native.py with the
 * machine's C compiler; without one, lstm_batch.py does the same with torch ops, operation
 * for operation (built with -ffp-contract=off, every line below rounds as written), so
 * both give the same bits: change the two together.
 *
 * Layout (float32, C order): gates[layers][4H][rows] are the matrix products (no bias),
 * gate order i, f, g, o, with the g rows already doubled (as are all biases and input
 * weights of g); c2[layers][H][rows] holds twice the cell state; h[layers][H][rows] gets
 * the new hidden state. tanh(z) = 2 sigmoid(2z) - 1 throughout.
 */
#include <stdint.h>
#include <string.h>

/* exp(x), x clamped to [-87, 88] (finite, no subnormal scale): round x/ln2 to n, reduce
 * with ln2 in two parts, a degree-6 polynomial on |r| <= ln2/2 (about 1 ulp), scale by
 * 2^n built from its bits. Branch-free, so the compiler vectorizes the loop. */
static inline float exp_clamped(float x) {
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    x = x > -87.0f ? x : -87.0f; /* these two forms compile to vmaxps / vminps */
    x = x < 88.0f ? x : 88.0f;
    float n = (x * 1.44269504088896341f + magic) - magic;
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float sigmoid(float x) { return 1.0f / (1.0f + exp_clamped(-x)); }

/* (Measured on Zen 3: the exponentials are the cost, not the divisions; folding the five
 * divisions into two by cross-multiplying was slower.) */
/* One step of `layers` consecutive layers. For each layer k, gate row q, row r, the
 * pre-activation is gates[k][q][r] plus a bias: bias[k][q], or, when bias0 is given, for
 * the first layer (layer 0 of the LSTM): bias0[q][r] + w_in[q] * x[r] (its per-row bias
 * and its audio input). When y is given, the last layer is the LSTM's last: y[r] =
 * head_b + sum_j head_w[j] h[j][r]. */
void nam_legacy_lstm_step(int64_t layers, int64_t hidden, int64_t rows, const float *bias,
                          const float *bias0, const float *w_in, const float *x,
                          const float *gates, float *c2, float *h,
                          const float *head_w, float head_b, float *restrict y) {
    for (int64_t k = 0; k < layers; k++) {
        const int first = (k == 0 && bias0 != 0);
        for (int64_t j = 0; j < hidden; j++) {
            const float *gi = gates + (k * 4 * hidden + j) * rows;
            const float *gf = gi + hidden * rows;
            const float *gg = gf + hidden * rows;
            const float *go = gg + hidden * rows;
            float *restrict c = c2 + (k * hidden + j) * rows;
            float *restrict out = h + (k * hidden + j) * rows;
            /* Two passes: in one loop the cell state's sigmoid waits on the gates', and
             * the out-of-order core barely overlaps iterations; split, each pass is a
             * run of independent work (measured ~10% faster on Zen 3). */
            if (first) {
                const float *b0i = bias0 + j * rows, *b0f = b0i + hidden * rows;
                const float *b0g = b0f + hidden * rows, *b0o = b0g + hidden * rows;
                const float wi = w_in[j], wf = w_in[hidden + j], wg = w_in[2 * hidden + j];
                const float wo = w_in[3 * hidden + j];
                for (int64_t r = 0; r < rows; r++) {
                    const float i = sigmoid(gi[r] + b0i[r] + wi * x[r]);
                    const float f = sigmoid(gf[r] + b0f[r] + wf * x[r]);
                    const float g2 = 4.0f * sigmoid(gg[r] + b0g[r] + wg * x[r]) - 2.0f;
                    c[r] = f * c[r] + i * g2;
                }
                for (int64_t r = 0; r < rows; r++)
                    out[r] = sigmoid(go[r] + b0o[r] + wo * x[r]) * (2.0f * sigmoid(c[r]) - 1.0f);
            } else {
                const float *b = bias + k * 4 * hidden + j;
                const float bi = b[0], bf = b[hidden], bg = b[2 * hidden], bo = b[3 * hidden];
                for (int64_t r = 0; r < rows; r++) {
                    const float i = sigmoid(gi[r] + bi);
                    const float f = sigmoid(gf[r] + bf);
                    const float g2 = 4.0f * sigmoid(gg[r] + bg) - 2.0f; /* 2 tanh(z): g rows hold 2z */
                    c[r] = f * c[r] + i * g2;                            /* twice the new cell state */
                }
                for (int64_t r = 0; r < rows; r++)
                    out[r] = sigmoid(go[r] + bo) * (2.0f * sigmoid(c[r]) - 1.0f); /* o tanh(c') */
            }
        }
    }
    if (y) {
        const float *last = h + (layers - 1) * hidden * rows;
        for (int64_t r = 0; r < rows; r++)
            y[r] = head_b;
        for (int64_t j = 0; j < hidden; j++) {
            const float w = head_w[j];
            const float *hj = last + j * rows;
            for (int64_t r = 0; r < rows; r++)
                y[r] += w * hj[r];
        }
    }
}
