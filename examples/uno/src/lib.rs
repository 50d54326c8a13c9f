//! Board support for the Uno examples.
#![no_std]
#![feature(abi_avr_interrupt)]

pub mod board;
