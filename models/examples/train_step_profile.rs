//! Times the parts of one training step of `vit_micro_patch8_64` (forward, backward) on random
//! data: `cargo run --release -p models --example train_step_profile [batch]`.
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use models::config::VitConfig;

fn main() -> candle_core::Result<()> {
    let batch: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let cfg = VitConfig::vit_micro_patch8_64(10);
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
    let model = models::vit::VisionTransformer::new(&cfg, vb)?;
    let x = Tensor::randn(0f32, 1.0, (batch, 3, 64, 64), &dev)?;
    let y = Tensor::zeros(batch, DType::U32, &dev)?;
    let _unused: Option<Var> = None;
    {
        let a = Tensor::randn(0f32, 1.0, (batch * 65, 192), &dev)?;
        let w = Tensor::randn(0f32, 1.0, (768, 192), &dev)?;
        let t0 = Instant::now();
        for _ in 0..20 {
            let _ = a.matmul(&w.t()?)?;
        }
        let s = t0.elapsed().as_secs_f64();
        println!(
            "matmul [{}x192]x[192x768]: {:.1} GFLOP/s",
            batch * 65,
            20.0 * 2.0 * (batch * 65 * 192 * 768) as f64 / s / 1e9
        );
        let big = Tensor::randn(0f32, 1.0, (batch * 65, 768), &dev)?;
        let t0 = Instant::now();
        for _ in 0..20 {
            let _ = big.gelu_erf()?;
        }
        println!(
            "gelu_erf on {} elems: {:.2} ms",
            batch * 65 * 768,
            t0.elapsed().as_secs_f64() * 1e3 / 20.0
        );
        let bias = Tensor::randn(0f32, 1.0, 768, &dev)?;
        let t0 = Instant::now();
        for _ in 0..20 {
            let _ = big.broadcast_add(&bias)?;
        }
        println!(
            "broadcast_add: {:.2} ms",
            t0.elapsed().as_secs_f64() * 1e3 / 20.0
        );
        let wv = Var::from_tensor(&Tensor::randn(0f32, 0.02, (768, 192), &dev)?)?;
        let bv = Var::from_tensor(&Tensor::zeros(768, DType::F32, &dev)?)?;
        let xin = Tensor::randn(0f32, 1.0, (batch * 65, 192), &dev)?;
        let t0 = Instant::now();
        for _ in 0..5 {
            let y = xin
                .matmul(&wv.as_tensor().t()?)?
                .broadcast_add(bv.as_tensor())?;
            let _ = y.sum_all()?.backward()?;
        }
        println!(
            "linear fwd+bwd (broadcast bias): {:.2} ms",
            t0.elapsed().as_secs_f64() * 1e3 / 5.0
        );
        let ones = Tensor::ones((batch * 65, 1), DType::F32, &dev)?;
        let t0 = Instant::now();
        for _ in 0..5 {
            let y = (xin.matmul(&wv.as_tensor().t()?)?
                + ones.matmul(&bv.as_tensor().unsqueeze(0)?)?)?;
            let _ = y.sum_all()?.backward()?;
        }
        println!(
            "linear fwd+bwd (outer-product bias): {:.2} ms",
            t0.elapsed().as_secs_f64() * 1e3 / 5.0
        );
        let t0 = Instant::now();
        for _ in 0..20 {
            let _ = big.sum_keepdim(0)?;
        }
        println!(
            "sum_keepdim(0): {:.2} ms",
            t0.elapsed().as_secs_f64() * 1e3 / 20.0
        );
    }
    for it in 0..4 {
        let t0 = Instant::now();
        let logits = model.forward(&x)?;
        let loss = models::train::cross_entropy(&logits, &y, 0.0)?;
        let _ = loss.to_scalar::<f32>()?;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        let t2 = Instant::now();
        drop(grads);
        let f = (t1 - t0).as_secs_f64();
        let b = (t2 - t1).as_secs_f64();
        println!(
            "iter {it}: forward {:.1} ms, backward {:.1} ms, {:.1} img/s (fwd+bwd), {:.1} GFLOP/s",
            f * 1e3,
            b * 1e3,
            batch as f64 / (f + b),
            3.0 * cfg.flops_per_image() * batch as f64 / (f + b) / 1e9
        );
    }
    Ok(())
}
