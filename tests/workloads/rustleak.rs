// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
//! Rust allocations with exactly known leaks, for memlens leaks:
//!
//!   leaks::leak_boxes   6 x Box<Node>                 24 bytes each
//!   leaks::leak_vecs    3 x Vec<u8> of capacity 1000  1000 bytes each
//!
//! churn() allocates and frees as much again. With --wait it says "ready",
//! waits for a line, works, says "done", waits for another.
use std::io::{Read, Write};

pub struct Node {
    pub a: u64,
    pub b: u64,
    pub c: u64,
}

mod leaks {
    use super::Node;

    #[inline(never)]
    pub fn leak_boxes() {
        for i in 0..6 {
            let node = Box::new(Node { a: i, b: i + 1, c: i + 2 });
            std::hint::black_box(Box::leak(node));
        }
    }

    #[inline(never)]
    pub fn leak_vecs() {
        for _ in 0..3 {
            let v: Vec<u8> = Vec::with_capacity(1000);
            std::hint::black_box(v.leak());
        }
    }

    #[inline(never)]
    pub fn churn() {
        for i in 0..10 {
            let node = std::hint::black_box(Box::new(Node { a: i, b: i, c: i }));
            let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(1000));
            drop(node);
            drop(v);
        }
    }
}

fn say(s: &str) {
    // Unbuffered: stdio buffers would be allocations of their own.
    std::io::stdout().lock().write_all(s.as_bytes()).unwrap();
}

fn wait_line() {
    let mut c = [0u8; 1];
    let mut stdin = std::io::stdin().lock();
    while stdin.read(&mut c).unwrap_or(0) == 1 && c[0] != b'\n' {}
}

fn main() {
    let wait = std::env::args().nth(1).as_deref() == Some("--wait");
    if wait {
        say("ready\n");
        wait_line();
    }
    leaks::churn();
    leaks::leak_boxes();
    leaks::leak_vecs();
    if wait {
        say("done\n");
        wait_line();
    }
}
